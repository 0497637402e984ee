//! The `sessions` function: `GET /api/v1/auth/sessions`.

use functions::auth::guard::Authenticator;
use functions::auth::sessions;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(sessions::router(Authenticator::from_backend(
        &backend,
    )?)))
    .await
}
