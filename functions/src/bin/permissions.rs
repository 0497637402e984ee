//! The `permissions` function: `GET /api/v1/auth/permissions`.

use functions::auth::guard::Authenticator;
use functions::auth::permissions;
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    lambda_http::run(app(permissions::router(Authenticator::from_backend(
        &backend,
    )?)))
    .await
}
