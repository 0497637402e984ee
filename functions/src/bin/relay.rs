//! The `relay` function: publishes the outbox events on the table's stream.

use functions::event::run_stream;
use functions::messaging::relay::Relay;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    run_stream(Relay::from_backend(&backend)?).await
}
