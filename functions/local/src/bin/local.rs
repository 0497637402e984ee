//! The whole system on this machine: every endpoint on 127.0.0.1:3000, data under ./.local,
//! and the event runtime. `local --help` lists the options.

use local_system::{LocalSystem, Options, shutdown_signal};

// Many threads allocate and free a request's buffers at once; glibc's malloc spent a third of a
// loaded server's CPU on it (README, "Benchmarks").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    functions::telemetry::init();
    let system = LocalSystem::start(Options::from_process()).await?;
    system.run_until(shutdown_signal()).await
}
