//! The `logout` function: `POST /api/v1/auth/logout`.

use functions::auth::guard::Authenticator;
use functions::auth::logout;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(logout::router(
        backend.accounts()?,
        Authenticator::from_backend(&backend)?,
    )))
    .await
}
