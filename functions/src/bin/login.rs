//! The `login` function: `POST /api/v1/auth/login`.

use functions::auth::login;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(login::router(
        backend.accounts()?,
        backend.token_issuer()?,
    )))
    .await
}
