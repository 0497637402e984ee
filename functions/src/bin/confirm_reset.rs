//! The `confirm_reset` function: `POST /api/v1/auth/confirm-reset`.

use functions::auth::confirm_reset;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(confirm_reset::router(backend.accounts()?))).await
}
