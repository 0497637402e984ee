//! The `redrive_stuck_jobs` function: queues again the jobs a dead worker left running.

use functions::event::run_schedule;
use functions::jobs::redrive_stuck_jobs::RedriveStuckJobs;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    run_schedule(RedriveStuckJobs::from_backend(&backend)?).await
}
