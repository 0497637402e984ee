//! The `reconcile_outbox` function: publishes outbox events the stream relay missed.

use functions::event::run_schedule;
use functions::maintenance::reconcile_outbox::ReconcileOutbox;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    run_schedule(ReconcileOutbox::from_backend(&backend)?).await
}
