//! The whole system on this machine: every endpoint on 127.0.0.1:3000, data under ./.local,
//! and the event runtime. `local --help` lists the options.

use local_system::{LocalSystem, Options, shutdown_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    functions::telemetry::init();
    let system = LocalSystem::start(Options::from_process()).await?;
    system.run_until(shutdown_signal()).await
}
