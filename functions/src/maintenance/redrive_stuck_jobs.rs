//! `redrive_stuck_jobs`: jobs left `running` by a worker that died go back to the queue.
//!
//! A worker that dies mid-attempt leaves its job `running`; SQS normally delivers the message
//! again once its visibility timeout (6 × the worker's timeout) runs out, and the next attempt
//! picks the job up. This catches what that misses (a message dead-lettered or lost while its
//! job was running): a job running longer than the worker timeout plus a margin past the
//! visibility timeout is queued again with a new message, through the outbox. It runs on a
//! schedule and as a job type.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::clock::{Clock, Random};
use shared::jobs::{JobError, JobRepo, JobStatus, requeue};
use shared::store::ItemStore;

use crate::jobs::worker::TIMEOUT;
use crate::jobs::{JobFailure, JobPayload, JobType};
use crate::trigger::ScheduleHandler;

/// Past the worker's timeout, how long a running job waits before it counts as stuck: longer
/// than the job queue's visibility timeout (6 × the worker's), so SQS's own redelivery goes
/// first.
pub const MARGIN: Duration = Duration::from_secs(270);

/// Jobs looked at per run.
const LIMIT: usize = 100;

/// A redrive on demand, as a job; it takes no input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedriveRequest {}

impl JobPayload for RedriveRequest {
    const JOB_TYPE: &'static str = "redrive_stuck_jobs";
}

#[derive(Debug, Clone)]
pub struct RedriveStuckJobs {
    repo: JobRepo,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    stuck_after: Duration,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedriveReport {
    pub found: usize,
    pub redriven: usize,
}

impl RedriveStuckJobs {
    pub fn new(store: Arc<dyn ItemStore>, clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Self {
        Self {
            repo: JobRepo::new(store),
            clock,
            random,
            stuck_after: TIMEOUT + MARGIN,
        }
    }

    /// How long a job may run before it counts as stuck.
    pub fn with_stuck_after(self, stuck_after: Duration) -> Self {
        Self {
            stuck_after,
            ..self
        }
    }

    pub async fn run(&self) -> anyhow::Result<RedriveReport> {
        let now = self.clock.now();
        let cutoff = now
            - TimeDelta::from_std(self.stuck_after)
                .context("the stuck-after duration is out of range")?;
        let candidates = self
            .repo
            .running_since_before(cutoff, LIMIT)
            .await
            .context("listing running jobs")?;
        let mut report = RedriveReport {
            found: candidates.len(),
            redriven: 0,
        };
        for listed in candidates {
            // The index may lag: decide on a fresh read.
            let Some(job) = self
                .repo
                .get(listed.id)
                .await
                .context("reading a running job")?
            else {
                continue;
            };
            if job.status != JobStatus::Running || job.updated_at >= cutoff {
                continue;
            }
            match requeue(
                self.repo.store().as_ref(),
                self.random.as_ref(),
                &job,
                &job.redrive(now)?,
            )
            .await
            {
                Ok(_) => {
                    tracing::warn!(job_id = %job.id, job_type = %job.job_type, attempts = job.attempts, "stuck job redriven");
                    report.redriven += 1;
                }
                Err(JobError::Conflict(_)) => {}
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("redriving job {}", job.id)));
                }
            }
        }
        tracing::info!(
            found = report.found,
            redriven = report.redriven,
            "redrive of stuck jobs done"
        );
        Ok(report)
    }
}

#[async_trait]
impl ScheduleHandler for RedriveStuckJobs {
    async fn handle(&self, _: EventBridgeEvent<Value>) -> anyhow::Result<Value> {
        Ok(serde_json::to_value(self.run().await?)?)
    }
}

#[async_trait]
impl JobType for RedriveStuckJobs {
    type Payload = RedriveRequest;

    async fn run(&self, _: RedriveRequest) -> Result<Value, JobFailure> {
        let report = RedriveStuckJobs::run(self)
            .await
            .map_err(JobFailure::Retryable)?;
        serde_json::to_value(report).map_err(|e| JobFailure::Permanent(e.into()))
    }
}
