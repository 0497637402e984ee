//! The `consumer` function: runs the reactions to the events on the events queue.

use functions::event::run_sqs;
use functions::messaging::consumer::Consumer;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    run_sqs(Consumer::from_backend(&backend)?).await
}
