//! The job worker: consumes batches of the job queue, one job attempt per message, concurrently.
//!
//! Per message: read the job; skip it (acknowledge) when it is finished (succeeded, dead,
//! cancelled) or gone; hand it back while another delivery's attempt may still be running
//! (started less than [`TIMEOUT`] ago); mark it running, one attempt more (conditional on its
//! version, so two deliveries cannot both start it); run it; record the outcome:
//!
//! - success: `succeeded` with the result; acknowledged;
//! - retryable failure with attempts left: `failed`; the message comes back after an
//!   exponential backoff (its visibility timeout is changed) and is reported as failed;
//! - retryable failure on the last attempt: `dead`; reported as failed and made visible at
//!   once, so the queue dead-letters it on the next receive (its `maxReceiveCount` is the
//!   attempts a job gets);
//! - permanent failure: `dead` at once; acknowledged.
//!
//! Logs name the job by id, type and status; payloads are never logged.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::Value;
use shared::clock::Clock;
use shared::jobs::{Job, JobError, JobMessage, JobRepo, JobStatus, backoff};
use shared::queue::Queue;
use shared::store::ItemStore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::jobs::JobFailure;
use crate::jobs::registry::Registry;
use crate::telemetry::{self, metrics};
use crate::trigger::SqsHandler;

/// The worker function's timeout (`Worker.Timeouts.FunctionSeconds` in the template); the
/// job queue hides a message for six times as long.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The wait after a job's first failed attempt; it doubles with every further one.
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);

/// The longest wait between attempts.
pub const BACKOFF_CAP: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub struct Worker {
    repo: JobRepo,
    queue: Arc<dyn Queue>,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    backoff_base: Duration,
    backoff_cap: Duration,
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Delete it.
    Done,
    /// Leave it to come back (or to be dead-lettered).
    Again,
}

impl Worker {
    pub fn new(
        store: Arc<dyn ItemStore>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        registry: Registry,
    ) -> Self {
        Self {
            repo: JobRepo::new(store),
            queue,
            registry: Arc::new(registry),
            clock,
            backoff_base: BACKOFF_BASE,
            backoff_cap: BACKOFF_CAP,
        }
    }

    /// Sets the wait after a first failed attempt and the longest wait.
    pub fn with_backoff(self, base: Duration, cap: Duration) -> Self {
        Self {
            backoff_base: base,
            backoff_cap: cap,
            ..self
        }
    }

    async fn deliver(&self, record: SqsMessage) -> Delivery {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        let message = match record.body.as_deref().map(JobMessage::from_body) {
            Some(Ok(message)) => message,
            // Left to dead-letter, where it can be looked at.
            _ => {
                tracing::error!(%message_id, "a job queue message that is not a job message");
                return Delivery::Again;
            }
        };
        match self
            .attempt(&message, record.receipt_handle.as_deref())
            .await
        {
            Ok(delivery) => delivery,
            Err(error) => {
                tracing::error!(job_id = %message.job_id, job_type = %message.job_type, error = %format_args!("{error:#}"), "job delivery failed");
                Delivery::Again
            }
        }
    }

    async fn attempt(
        &self,
        message: &JobMessage,
        receipt: Option<&str>,
    ) -> anyhow::Result<Delivery> {
        let Some(job) = self
            .repo
            .get(message.job_id)
            .await
            .context("reading the job")?
        else {
            tracing::warn!(job_id = %message.job_id, job_type = %message.job_type, "no such job; message dropped");
            return Ok(Delivery::Done);
        };
        // The attempt's log lines carry the trace of the request that caused the job, and what
        // the job records carries it on.
        let span = tracing::info_span!("job", job_id = %job.id, trace_id = tracing::field::Empty);
        telemetry::record_trace(&span, job.trace_id.as_deref());
        let trace = job.trace_id.clone();
        shared::trace::scope(trace, self.attempt_job(job, receipt))
            .instrument(span)
            .await
    }

    async fn attempt_job(&self, job: Job, receipt: Option<&str>) -> anyhow::Result<Delivery> {
        if job.status.is_final() {
            tracing::info!(job_id = %job.id, job_type = %job.job_type, status = %job.status, "job already finished; skipped");
            return Ok(Delivery::Done);
        }
        // Another delivery of the job (SQS delivers at least once) may still be running its
        // attempt: an invocation lasts at most TIMEOUT. This one comes back when that attempt
        // has finished or died, instead of running the job beside it.
        let now = self.clock.now();
        if let Some(live) = job.started_at.filter(|_| job.status == JobStatus::Running) {
            let left = (live + TIMEOUT - now).to_std().unwrap_or_default();
            if !left.is_zero() {
                if let Some(receipt) = receipt {
                    self.queue
                        .set_visibility(receipt, left)
                        .await
                        .context("waiting for the running attempt")?;
                }
                tracing::info!(job_id = %job.id, job_type = %job.job_type, retry_in_ms = left.as_millis() as u64, "job running in another delivery; this one waits for it");
                return Ok(Delivery::Again);
            }
        }
        let running = match self.repo.save(&job, &job.start(now)?).await {
            Ok(running) => running,
            Err(JobError::Conflict(_)) => {
                tracing::info!(job_id = %job.id, job_type = %job.job_type, "job changed concurrently; delivery retried");
                return Ok(Delivery::Again);
            }
            Err(e) => return Err(anyhow::Error::new(e).context("marking the job running")),
        };
        tracing::info!(job_id = %running.id, job_type = %running.job_type, attempt = running.attempts, "job started");
        let outcome = self
            .registry
            .run(&running.job_type, running.id, running.payload.clone())
            .await;
        self.record(&running, outcome, receipt).await
    }

    async fn record(
        &self,
        running: &Job,
        outcome: Result<Value, JobFailure>,
        receipt: Option<&str>,
    ) -> anyhow::Result<Delivery> {
        let now = self.clock.now();
        let (id, job_type) = (running.id, running.job_type.as_str());
        let error = match outcome {
            Ok(result) => {
                let mut done = running.succeed(result, now)?;
                if self.registry.is_sensitive(job_type) {
                    done.payload = Value::Null;
                }
                self.repo
                    .save(running, &done)
                    .await
                    .context("recording the job's success")?;
                tracing::info!(job_id = %id, job_type, status = %done.status, attempts = done.attempts, "job succeeded");
                metrics::job(job_type, "succeeded");
                return Ok(Delivery::Done);
            }
            Err(error) => error,
        };
        let retryable = error.is_retryable();
        let failed = running.fail(format!("{error:#}"), retryable, now)?;
        let stored = self
            .repo
            .save(running, &failed)
            .await
            .context("recording the job's failure")?;
        let error = format!("{error:#}");
        match stored.status {
            JobStatus::Failed => {
                let wait = backoff(stored.attempts, self.backoff_base, self.backoff_cap);
                if let Some(receipt) = receipt {
                    self.queue
                        .set_visibility(receipt, wait)
                        .await
                        .context("delaying the next attempt")?;
                }
                tracing::warn!(job_id = %id, job_type, status = %stored.status, attempts = stored.attempts, retry_in_ms = wait.as_millis() as u64, %error, "job attempt failed");
                metrics::job(job_type, "failed");
                Ok(Delivery::Again)
            }
            _ if retryable => {
                if let Some(receipt) = receipt {
                    self.queue
                        .set_visibility(receipt, Duration::ZERO)
                        .await
                        .context("handing the message back")?;
                }
                tracing::error!(job_id = %id, job_type, status = %stored.status, attempts = stored.attempts, %error, "job attempts spent; dead-lettered");
                metrics::job(job_type, "dead");
                metrics::dead_lettered("jobs");
                Ok(Delivery::Again)
            }
            _ => {
                tracing::error!(job_id = %id, job_type, status = %stored.status, attempts = stored.attempts, %error, "job failed for good");
                metrics::job(job_type, "dead");
                Ok(Delivery::Done)
            }
        }
    }
}

#[async_trait]
impl SqsHandler for Worker {
    async fn handle(&self, event: SqsEvent) -> anyhow::Result<SqsBatchResponse> {
        let mut tasks = JoinSet::new();
        for record in event.records {
            // Without its id a failure could not be reported alone: fail the whole batch
            // rather than name a message that does not exist.
            let Some(id) = record.message_id.clone() else {
                return Err(anyhow::anyhow!(
                    "a message without an id cannot be reported alone"
                ));
            };
            let worker = self.clone();
            tasks.spawn(async move { (id, worker.deliver(record).await) });
        }
        let mut response = SqsBatchResponse::default();
        while let Some(joined) = tasks.join_next().await {
            // A panicking job fails the batch: its message cannot be named, and the finished
            // ones are skipped when they come back.
            let (id, delivery) = joined.context("a job attempt panicked")?;
            if delivery == Delivery::Again {
                response.add_failure(id);
            }
        }
        Ok(response)
    }
}
