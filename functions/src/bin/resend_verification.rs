//! The `resend_verification` function: `POST /api/v1/auth/resend-verification`.

use functions::auth::resend_verification;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(resend_verification::router(backend.accounts()?))).await
}
