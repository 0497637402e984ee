//! Background jobs on the local system: enqueue through the outbox, the relay, the job queue,
//! the worker, retries with backoff, dead letters, and the job types.

mod api;
mod aws;
mod cases;
mod create_list;
mod lifecycle;
mod types;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use functions::jobs::registry::Registry;
use functions::jobs::worker::Worker;
use functions::jobs::{JobFailure, JobPayload, JobType};
use functions::wiring::{self, RELAY};
use infra::compose::{Backend, LocalBackend};
use infra::config::LocalConfig;
use local_system::feed_pump::FeedPump;
use local_system::queue_pump::{BatchOutcome, QueuePump};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::clock::OsRandom;
use shared::jobs::{Job, JobRepo, NewJob, enqueue};
use shared::queue::Queue;
use shared::store::ItemStore;
use uuid::Uuid;

/// Attempts a test job gets; also the local job queue's maximum receives.
pub const ATTEMPTS: u32 = 3;

/// A local system's job pipeline, driven step by step: the relay on the store's change feed
/// publishes the jobs enqueued, a queue pump runs the worker.
pub struct Pipeline {
    pub backend: LocalBackend,
    pub store: Arc<dyn ItemStore>,
    pub repo: JobRepo,
    pub pump: QueuePump,
    /// The worker the pump delivers to, for batches built by hand.
    pub worker: Arc<Worker>,
    /// The relay's trigger on the change feed, as the local event runtime builds it.
    relay: FeedPump,
    _dir: tempfile::TempDir,
}

pub const APP_URL: &str = "http://app.test";

impl Pipeline {
    /// The pipeline with the system's job types and `extra`.
    pub async fn start(extra: impl FnOnce(Registry) -> Registry) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let config = LocalConfig {
            max_receives: ATTEMPTS,
            ..LocalConfig::new(dir.path(), APP_URL)
        };
        let backend = LocalBackend::open_default(config).await?;
        let store = backend.store()?;
        let registry = extra(wiring::job_types(&backend)?);
        let worker = Worker::new(
            store.clone(),
            backend.jobs_queue()?,
            backend.clock(),
            registry,
        )
        .with_backoff(Duration::from_millis(20), Duration::from_millis(100));
        let worker = Arc::new(worker);
        let pump = QueuePump::new("jobs", backend.jobs_queue()?, worker.clone())
            .with_timing(Duration::from_secs(5), Duration::from_millis(20));
        let relay = FeedPump::new(
            RELAY.name,
            backend.local_store(),
            RELAY.stream_handler(&backend)?,
        );
        Ok(Self {
            repo: JobRepo::new(store.clone()),
            store,
            pump,
            worker,
            relay,
            backend,
            _dir: dir,
        })
    }

    pub fn local(&self) -> anyhow::Result<&LocalBackend> {
        Ok(&self.backend)
    }

    pub async fn enqueue(&self, job: NewJob) -> anyhow::Result<Job> {
        let new = job.max_attempts(ATTEMPTS);
        Ok(enqueue(
            self.store.as_ref(),
            self.backend.clock().as_ref(),
            &OsRandom,
            new,
        )
        .await?)
    }

    pub async fn job(&self, id: Uuid) -> anyhow::Result<Job> {
        self.repo
            .get(id)
            .await?
            .with_context(|| format!("job {id} is gone"))
    }

    /// Relays and pumps until `done` holds of the job, for at most ten seconds.
    pub async fn run_until(&self, id: Uuid, done: impl Fn(&Job) -> bool) -> anyhow::Result<Job> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let job = self.job(id).await?;
            if done(&job) {
                return Ok(job);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "job {id} never got there; it is {} after {} attempts",
                    job.status,
                    job.attempts
                );
            }
            self.step().await?;
        }
    }

    /// Relays what the change feed shows, then delivers one batch of the job queue to the
    /// worker.
    pub async fn step(&self) -> anyhow::Result<BatchOutcome> {
        self.publish().await?;
        self.pump.pump_once().await
    }

    /// Relays the change feed until it is read to its end.
    async fn publish(&self) -> anyhow::Result<()> {
        loop {
            let fed = self.relay.pump_once().await?;
            anyhow::ensure!(fed.failed_at.is_none(), "the relay failed: {fed:?}");
            if fed.delivered == 0 {
                return Ok(());
            }
        }
    }
}

/// A job type that fails its first `fail_first` attempts (per key), then succeeds.
#[derive(Debug, Clone, Default)]
pub struct Flaky {
    pub calls: Arc<Mutex<HashMap<String, u32>>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FlakyPayload {
    pub key: String,
    pub fail_first: u32,
}

impl FlakyPayload {
    pub fn new(key: &str, fail_first: u32) -> Self {
        Self {
            key: key.to_owned(),
            fail_first,
        }
    }
}

impl JobPayload for FlakyPayload {
    const JOB_TYPE: &'static str = "flaky";
}

impl Flaky {
    pub fn calls(&self, key: &str) -> u32 {
        self.calls.lock().unwrap().get(key).copied().unwrap_or(0)
    }
}

#[async_trait]
impl JobType for Flaky {
    type Payload = FlakyPayload;

    async fn run(&self, payload: FlakyPayload) -> Result<Value, JobFailure> {
        let call = {
            let mut calls = self.calls.lock().unwrap();
            let call = calls.entry(payload.key).or_default();
            *call += 1;
            *call
        };
        if call <= payload.fail_first {
            return Err(JobFailure::Retryable(anyhow::anyhow!(
                "attempt {call} failed on purpose"
            )));
        }
        Ok(json!({ "call": call }))
    }
}

#[async_trait]
impl cases::Lifecycle for Pipeline {
    async fn enqueue(&self, job: NewJob) -> anyhow::Result<Job> {
        Pipeline::enqueue(self, job).await
    }

    async fn run_until_final(&self, id: Uuid) -> anyhow::Result<Job> {
        self.run_until(id, |job| job.status.is_final()).await
    }

    async fn receive_once(&self) -> anyhow::Result<usize> {
        Ok(self.pump.pump_once().await?.received)
    }

    async fn dead_letters(&self) -> anyhow::Result<Vec<String>> {
        let letters = self
            .local()?
            .local_queue("jobs-dlq")
            .receive(10, Duration::from_secs(5), Duration::ZERO)
            .await?;
        Ok(letters.into_iter().map(|m| m.body).collect())
    }

    async fn publish(&self) -> anyhow::Result<()> {
        Pipeline::publish(self).await
    }

    fn jobs_queue(&self) -> Arc<dyn Queue> {
        self.backend.local_queue("jobs")
    }

    fn worker(&self) -> Arc<Worker> {
        self.worker.clone()
    }

    async fn job(&self, id: Uuid) -> anyhow::Result<Job> {
        Pipeline::job(self, id).await
    }
}
