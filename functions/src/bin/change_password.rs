//! The `change_password` function: `PUT /api/v1/auth/change-password`.

use functions::auth::change_password;
use functions::auth::guard::Authenticator;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(change_password::router(
        backend.accounts()?,
        Authenticator::from_backend(&backend)?,
    )))
    .await
}
