//! The `purge_expired` function: removes expired items on a schedule.

use functions::event::run_schedule;
use functions::maintenance::purge_expired::PurgeExpired;
use infra::compose::Backend;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::telemetry::init();
    let backend = Backend::aws_from_env().await?;
    run_schedule(PurgeExpired::new(backend.store()?)).await
}
