//! The `verify_email` function: `POST /api/v1/auth/verify-email`.

use functions::auth::verify_email;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(verify_email::router(backend.accounts()?))).await
}
