//! The `worker` function: runs the jobs of the job queue.

use functions::event::run_sqs;
use functions::jobs::worker::Worker;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    run_sqs(Worker::from_backend(&backend)?).await
}
