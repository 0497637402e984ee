//! Job pipeline throughput on the local system: enqueues N no-op jobs (job record + outbox event
//! in one transaction each) while the relay (on the change feed) publishes them to the job queue
//! and the worker runs them, and prints jobs/s from the first enqueue to the last `succeeded`.
//!
//! `cargo bench -p functions --bench jobs -- [N] [PUMPS]` (defaults: 2000 jobs, 4 pumps).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use functions::jobs::registry::Registry;
use functions::jobs::worker::Worker;
use functions::jobs::{JobError, JobType, NoPayload};
use functions::local::feed_pump::FeedPump;
use functions::local::queue_pump::QueuePump;
use functions::messaging::relay::Relay;
use infra::compose::Backend;
use infra::config::LocalConfig;
use serde_json::{Value, json};
use shared::clock::OsRandom;
use shared::jobs::{JobStatus, NewJob, enqueue};

#[derive(Debug, Clone, Default)]
struct Noop(Arc<AtomicUsize>);

#[async_trait]
impl JobType for Noop {
    const NAME: &'static str = "noop";
    type Payload = NoPayload;
    async fn run(&self, _: NoPayload) -> Result<Value, JobError> {
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
    let backend = Backend::local(LocalConfig::new(dir.path(), "http://localhost")).await?;
    let store = backend.store()?;
    let noop = Noop::default();
    let worker = Arc::new(Worker::new(
        store.clone(),
        backend.jobs_queue()?,
        backend.clock(),
        Registry::new().with(noop.clone()),
    ));
    let Backend::Local(local) = &backend else {
        anyhow::bail!("the benchmark runs on the local backend")
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // The relay as the local system runs it: the change feed, pumped into the stream handler.
    let relay = FeedPump::new(
        "relay",
        local.local_store(),
        Arc::new(Relay::from_backend(&backend)?),
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
            NewJob::new("noop", json!({})),
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
        let mut cursor = None;
        loop {
            let page = repo.list(JobStatus::Succeeded, 1000, cursor).await?;
            succeeded += page.jobs.len();
            match page.next {
                Some(next) => cursor = Some(next),
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
