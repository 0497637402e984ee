//! The `delete_session` function: `DELETE /api/v1/auth/sessions/{id}`.

use functions::auth::delete_session;
use functions::auth::guard::Authenticator;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(delete_session::router(
        backend.accounts()?,
        Authenticator::from_backend(&backend)?,
    )))
    .await
}
