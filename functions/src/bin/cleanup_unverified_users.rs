//! The `cleanup_unverified_users` function: removes accounts never verified in time.

use functions::event::run_schedule;
use functions::jobs::cleanup_unverified_users::CleanupUnverifiedUsers;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    run_schedule(CleanupUnverifiedUsers::from_backend(&backend)?).await
}
