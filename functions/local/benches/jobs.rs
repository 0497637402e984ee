//! Job pipeline throughput on the local system: enqueues N no-op jobs (job record + outbox event
//! in one transaction each) while the relay (on the change feed) publishes them to the job queue
//! and the worker runs them, and prints jobs/s from the first enqueue to the last `succeeded`.
//!
//! `cargo bench -p local --bench jobs -- [N] [PUMPS]` (defaults: 2000 jobs, 4 pumps).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use functions::jobs::registry::Registry;
use functions::jobs::worker::Worker;
use functions::jobs::{JobFailure, JobPayload, JobType};
use functions::wiring::RELAY;
use infra::compose::{Backend, LocalBackend};
use infra::config::LocalConfig;
use local_system::feed_pump::FeedPump;
use local_system::queue_pump::QueuePump;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::clock::OsRandom;
use shared::jobs::{JobStatus, NewJob, enqueue};

#[derive(Debug, Clone, Default)]
struct Noop(Arc<AtomicUsize>);

#[derive(Debug, Serialize, Deserialize)]
struct NoopRequest {}

impl JobPayload for NoopRequest {
    const JOB_TYPE: &'static str = "noop";
}

#[async_trait]
impl JobType for Noop {
    type Payload = NoopRequest;
    async fn run(&self, _: NoopRequest) -> Result<Value, JobFailure> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(json!({}))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let jobs = args.first().copied().unwrap_or(2000);
    let pumps = args.get(1).copied().unwrap_or(4);
    let dir = tempfile::tempdir()?;
    let backend =
        LocalBackend::open_default(LocalConfig::new(dir.path(), "http://localhost")).await?;
    let store = backend.store()?;
    let noop = Noop::default();
    let worker = Arc::new(Worker::new(
        store.clone(),
        backend.jobs_queue()?,
        backend.clock(),
        Registry::new().with(noop.clone()),
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // The relay as the local system runs it: the change feed, pumped into the stream handler.
    let relay = FeedPump::new(
        RELAY.name,
        backend.local_store(),
        RELAY.stream_handler(&backend)?,
    );
    let mut tasks = vec![tokio::spawn(relay.run(stopped.clone()))];
    for _ in 0..pumps {
        let pump = QueuePump::new("jobs", backend.jobs_queue()?, worker.clone())
            .with_timing(Duration::from_secs(30), Duration::from_millis(20));
        tasks.push(tokio::spawn(pump.run(stopped.clone())));
    }

    let started = Instant::now();
    let clock = backend.clock();
    for _ in 0..jobs {
        enqueue(
            store.as_ref(),
            clock.as_ref(),
            &OsRandom,
            NewJob::of(&NoopRequest {})?,
        )
        .await?;
    }
    let enqueued = started.elapsed();
    while noop.0.load(Ordering::Relaxed) < jobs {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // The last run is counted when its job is recorded succeeded, a moment after it ran.
    let repo = shared::jobs::JobRepo::new(store.clone());
    loop {
        let mut succeeded = 0;
        let key = shared::paging::CursorKey::from_secret("bench");
        let mut request = shared::jobs::listing::JobListRequest {
            status: Some(JobStatus::Succeeded),
            job_type: None,
            limit: 100,
            cursor: None,
        };
        loop {
            let page = repo.list(&key, &request).await?;
            succeeded += page.jobs.len();
            match page.next {
                Some(next) => request.cursor = Some(next),
                None => break,
            }
        }
        if succeeded >= jobs {
            break;
        }
    }
    let total = started.elapsed();
    stop.send_replace(true);
    for task in tasks {
        task.await?;
    }
    println!("jobs: {jobs}, pumps: {pumps} (batches of 10)");
    println!(
        "enqueue:                {:>8.0} jobs/s ({:.2?})",
        jobs as f64 / enqueued.as_secs_f64(),
        enqueued
    );
    println!(
        "enqueue -> succeeded:   {:>8.0} jobs/s ({:.2?})",
        jobs as f64 / total.as_secs_f64(),
        total
    );
    Ok(())
}
