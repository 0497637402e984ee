//! The `register` function: `POST /api/v1/auth/register`.

use functions::auth::register;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(register::router(backend.accounts()?))).await
}
