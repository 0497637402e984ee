//! The job record and its status rules.
//!
//! ```text
//! queued ──► running ──► succeeded
//!   ▲  │        │  ▲
//!   │  │        ▼  │ (next delivery)
//!   │  │      failed ──► running … ──► dead (attempts spent, or a permanent failure)
//!   │  ▼
//!   │ cancelled
//!   └── failed | dead (manual retry), running (stuck, redriven)
//! ```
//!
//! `failed` means "an attempt failed and the job waits for its next delivery"; `dead` means
//! "it will not run again unless retried by hand".

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Dead,
    Cancelled,
}

impl JobStatus {
    pub const ALL: &[JobStatus] = &[
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Dead,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Dead => "dead",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Whether a delivery of the job's message has nothing left to do.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Dead | JobStatus::Cancelled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: Uuid,
    pub job_type: String,
    /// The job type's input. It may hold what a mail needs (a one-time link token), so it is
    /// never logged.
    pub payload: Value,
    pub status: JobStatus,
    /// Attempts started so far.
    pub attempts: u32,
    pub max_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the job is due (its message is delayed until then).
    pub run_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// Bumped by every save; a save is conditional on the version it read.
    pub version: u64,
    /// The trace of the request whose work queued it ([`crate::trace`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("job {0} not found")]
    NotFound(Uuid),
    /// The job's status does not allow the change, or another writer changed it first.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        JobError::Unexpected(e.into())
    }
}

impl Job {
    /// A queued job, due at `run_at`.
    pub fn new(
        id: Uuid,
        job_type: impl Into<String>,
        payload: Value,
        max_attempts: u32,
        now: DateTime<Utc>,
        run_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            job_type: job_type.into(),
            payload,
            status: JobStatus::Queued,
            attempts: 0,
            max_attempts: max_attempts.max(1),
            last_error: None,
            result: None,
            created_at: now,
            updated_at: now,
            run_at,
            started_at: None,
            version: 0,
            trace_id: crate::trace::current(),
        }
    }

    fn conflict(&self, change: &str) -> JobError {
        JobError::Conflict(format!(
            "job {} is {} and cannot be {change}",
            self.id, self.status
        ))
    }

    fn moved(&self, status: JobStatus, now: DateTime<Utc>) -> Job {
        Job {
            status,
            updated_at: now,
            ..self.clone()
        }
    }

    /// A delivery starts an attempt: queued, failed (retrying) or running (a delivery whose
    /// worker died) become running, one attempt more.
    pub fn start(&self, now: DateTime<Utc>) -> Result<Job, JobError> {
        match self.status {
            JobStatus::Queued | JobStatus::Failed | JobStatus::Running => Ok(Job {
                attempts: self.attempts + 1,
                started_at: Some(now),
                ..self.moved(JobStatus::Running, now)
            }),
            _ => Err(self.conflict("started")),
        }
    }

    pub fn succeed(&self, result: Value, now: DateTime<Utc>) -> Result<Job, JobError> {
        match self.status {
            JobStatus::Running => Ok(Job {
                result: Some(result),
                last_error: None,
                ..self.moved(JobStatus::Succeeded, now)
            }),
            _ => Err(self.conflict("marked succeeded")),
        }
    }

    /// An attempt failed. A retryable failure with attempts left makes the job `failed` (it runs
    /// again on its next delivery); otherwise it is `dead`.
    pub fn fail(
        &self,
        error: impl Into<String>,
        retryable: bool,
        now: DateTime<Utc>,
    ) -> Result<Job, JobError> {
        if self.status != JobStatus::Running {
            return Err(self.conflict("marked failed"));
        }
        let status = if retryable && self.attempts < self.max_attempts {
            JobStatus::Failed
        } else {
            JobStatus::Dead
        };
        Ok(Job {
            last_error: Some(error.into()),
            ..self.moved(status, now)
        })
    }

    /// A manual retry: a failed or dead job is queued again with all its attempts.
    pub fn retry(&self, now: DateTime<Utc>) -> Result<Job, JobError> {
        match self.status {
            JobStatus::Failed | JobStatus::Dead => Ok(Job {
                attempts: 0,
                ..self.moved(JobStatus::Queued, now)
            }),
            _ => Err(self.conflict("retried")),
        }
    }

    /// Only a job no worker has picked up can be cancelled.
    pub fn cancel(&self, now: DateTime<Utc>) -> Result<Job, JobError> {
        match self.status {
            JobStatus::Queued => Ok(self.moved(JobStatus::Cancelled, now)),
            _ => Err(self.conflict("cancelled")),
        }
    }

    /// A job left running by a worker that died is queued again; the attempt it was in counts.
    pub fn redrive(&self, now: DateTime<Utc>) -> Result<Job, JobError> {
        match self.status {
            JobStatus::Running => Ok(self.moved(JobStatus::Queued, now)),
            _ => Err(self.conflict("redriven")),
        }
    }
}

/// How long a job waits after its `attempts`-th failed attempt: `base × 2^(attempts − 1)`,
/// at most `cap`.
pub fn backoff(attempts: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1));
    base.saturating_mul(factor).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + secs, 0).unwrap()
    }

    fn job(status: JobStatus) -> Job {
        Job {
            status,
            ..Job::new(Uuid::nil(), "noop", json!({}), 3, at(0), at(0))
        }
    }

    fn allowed(change: impl Fn(&Job) -> Result<Job, JobError>) -> Vec<JobStatus> {
        JobStatus::ALL
            .iter()
            .copied()
            .filter(|&s| change(&job(s)).is_ok())
            .collect()
    }

    #[test]
    fn only_failed_and_dead_jobs_can_be_retried() {
        assert_eq!(
            allowed(|j| j.retry(at(1))),
            [JobStatus::Failed, JobStatus::Dead]
        );
        let retried = job(JobStatus::Dead).retry(at(1)).ok();
        assert_eq!(
            retried.map(|j| (j.status, j.attempts)),
            Some((JobStatus::Queued, 0))
        );
        assert!(matches!(
            job(JobStatus::Running).retry(at(1)),
            Err(JobError::Conflict(_))
        ));
    }

    #[test]
    fn only_queued_jobs_can_be_cancelled() {
        assert_eq!(allowed(|j| j.cancel(at(1))), [JobStatus::Queued]);
        assert!(matches!(
            job(JobStatus::Succeeded).cancel(at(1)),
            Err(JobError::Conflict(_))
        ));
    }

    #[test]
    fn a_delivery_starts_an_unfinished_job_and_counts_the_attempt() {
        assert_eq!(
            allowed(|j| j.start(at(1))),
            [JobStatus::Queued, JobStatus::Running, JobStatus::Failed]
        );
        let started = job(JobStatus::Queued).start(at(5)).ok();
        assert_eq!(
            started.map(|j| (j.status, j.attempts, j.started_at, j.updated_at)),
            Some((JobStatus::Running, 1, Some(at(5)), at(5)))
        );
    }

    #[test]
    fn a_retryable_failure_waits_for_the_next_attempt_until_attempts_run_out() {
        let first = job(JobStatus::Queued)
            .start(at(1))
            .and_then(|j| j.fail("boom", true, at(2)));
        assert_eq!(
            first
                .as_ref()
                .ok()
                .map(|j| (j.status, j.last_error.as_deref())),
            Some((JobStatus::Failed, Some("boom")))
        );

        let last = Job {
            attempts: 2,
            ..job(JobStatus::Failed)
        }
        .start(at(3))
        .and_then(|j| j.fail("boom", true, at(4)));
        assert_eq!(
            last.ok().map(|j| (j.status, j.attempts)),
            Some((JobStatus::Dead, 3))
        );
    }

    #[test]
    fn a_permanent_failure_is_dead_at_once() {
        let failed = job(JobStatus::Queued)
            .start(at(1))
            .and_then(|j| j.fail("bad payload", false, at(2)));
        assert_eq!(
            failed.ok().map(|j| (j.status, j.attempts)),
            Some((JobStatus::Dead, 1))
        );
    }

    #[test]
    fn success_keeps_the_result_and_clears_the_last_error() {
        let failed = job(JobStatus::Queued)
            .start(at(1))
            .and_then(|j| j.fail("boom", true, at(2)));
        let done = failed
            .and_then(|j| j.start(at(3)))
            .and_then(|j| j.succeed(json!({"sent": 1}), at(4)));
        let done = done.ok();
        assert_eq!(done.as_ref().map(|j| j.status), Some(JobStatus::Succeeded));
        assert_eq!(
            done.as_ref().and_then(|j| j.result.clone()),
            Some(json!({"sent": 1}))
        );
        assert_eq!(done.and_then(|j| j.last_error), None);
        assert!(job(JobStatus::Queued).succeed(json!(null), at(1)).is_err());
    }

    #[test]
    fn only_running_jobs_are_redriven() {
        assert_eq!(allowed(|j| j.redrive(at(1))), [JobStatus::Running]);
    }

    #[test]
    fn backoff_doubles_per_attempt_up_to_its_cap() {
        let (base, cap) = (Duration::from_secs(10), Duration::from_secs(900));
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n, base, cap).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 900]);
        assert_eq!(backoff(200, base, cap), cap);
    }

    #[test]
    fn statuses_are_named_in_snake_case() {
        for &s in JobStatus::ALL {
            assert_eq!(serde_json::to_value(s).ok(), Some(json!(s.as_str())));
        }
    }
}
