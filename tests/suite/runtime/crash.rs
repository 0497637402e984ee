//! A local system killed between a write and its relay loses nothing: the outbox event is in
//! the store, the change feed position is durable, and the restarted system delivers it.

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::TimeDelta;
use functions::maintenance::purge_expired::PurgeRequest;
use infra::compose::{Backend as _, LocalBackend};
use infra::config::LocalConfig;
use shared::clock::OsRandom;
use shared::jobs::{JobRepo, JobStatus, NewJob, enqueue};
use shared::messaging::outbox::pending_older_than;

/// The local system's database file in its data directory.
pub(super) const DATABASE: &str = "data.sqlite";

/// Where the local system's standard error goes, in its data directory.
pub(super) const LOG: &str = "local-system.log";

/// The local system in a child process, killed when dropped.
pub(super) struct LocalProcess(Child);

impl LocalProcess {
    pub(super) async fn start(data_dir: &Path, port: u16) -> anyhow::Result<Self> {
        Self::start_with(data_dir, port, &[]).await
    }

    /// Starts it with `env` added to its environment, and waits until it answers.
    pub(super) async fn start_with(
        data_dir: &Path,
        port: u16,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        // Its warnings and errors, kept across restarts, for a failed test to show.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join(LOG))
            .context("opening the local system's log")?;
        let child = Command::new(env!("CARGO_BIN_EXE_local-system"))
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting the local system")?;
        let process = Self(child);
        let health = format!("http://127.0.0.1:{port}/health");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(&health).await.map(|r| r.status()).ok() != Some(reqwest::StatusCode::OK)
        {
            if Instant::now() > deadline {
                bail!("the local system did not answer on {health}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(process)
    }

    /// Freezes the process: it keeps its state but runs nothing, as if paused right after a write.
    /// A process frozen inside a write transaction would hold the database's write lock for
    /// ever, so it is let run a moment and frozen again until it is caught outside one.
    fn freeze_outside_a_write(&self, database: &Path) -> anyhow::Result<()> {
        for _ in 0..100 {
            self.signal("-STOP")?;
            let probe = rusqlite::Connection::open(database)?;
            probe.busy_timeout(Duration::from_millis(200))?;
            if probe.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").is_ok() {
                return Ok(());
            }
            self.signal("-CONT")?;
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("the local system was always inside a write")
    }

    fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill {signal} failed");
        Ok(())
    }

    /// SIGKILL: no shutdown, no flush, nothing in memory survives.
    pub(super) fn kill(mut self) -> anyhow::Result<()> {
        self.0.kill()?;
        self.0.wait()?;
        Ok(())
    }
}

impl Drop for LocalProcess {
    fn drop(&mut self) {
        // Already gone when killed on purpose; otherwise the test failed and must not leak it.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

#[tokio::test]
async fn a_killed_local_system_relays_a_written_event_after_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let system = LocalProcess::start(dir.path(), port).await?;
    system.freeze_outside_a_write(&dir.path().join(DATABASE))?;

    // Written by another process into the same store while the system cannot relay it: the job
    // record and its job.enqueued event, in one transaction.
    let base_url = format!("http://127.0.0.1:{port}");
    let backend = LocalBackend::open_default(LocalConfig::new(dir.path(), base_url)).await?;
    let store = backend.store()?;
    let new = NewJob::of(&PurgeRequest {})?;
    let job = enqueue(store.as_ref(), backend.clock().as_ref(), &OsRandom, new).await?;
    system.kill()?;

    let pending = pending_older_than(
        store.as_ref(),
        TimeDelta::zero(),
        backend.clock().now(),
        100,
    )
    .await?;
    assert!(
        pending
            .iter()
            .any(|event| event.aggregate_id == job.id.to_string()),
        "the job's event must still be waiting in the outbox: {pending:?}"
    );
    let repo = JobRepo::new(store);

    let _restarted = LocalProcess::start(dir.path(), port).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = repo.get(job.id).await?.context("the job record is gone")?;
        if job.status == JobStatus::Succeeded {
            assert_eq!(job.attempts, 1);
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "after the restart the job is still {} ({job:?})",
                job.status
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
