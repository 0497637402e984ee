//! The `jwks` function: `GET /.well-known/jwks.json`.

use functions::auth::jwks::{self, PublicKeys};
use functions::http::app;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    let keys = PublicKeys::new(backend.secrets()?, backend.signing_keys_secret());
    lambda_http::run(app(jwks::router(keys))).await
}
