//! The `reset_password` function: `POST /api/v1/auth/reset-password`.

use functions::auth::reset_password;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(reset_password::router(backend.accounts()?))).await
}
