//! The `refresh` function: `POST /api/v1/auth/refresh`.

use functions::auth::refresh;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(refresh::router(
        backend.accounts()?,
        backend.token_issuer()?,
    )))
    .await
}
