//! Background jobs: the job types, the registry that runs them by name, and the worker.
//!
//! A job type is one file with its payload type (a [`JobPayload`], which names the type) and its
//! handler, implementing [`JobType`] ([`send_email`], [`purge_expired`]; the maintenance jobs
//! live with their schedules in [`crate::maintenance`]). To add one: write the file, then
//! register it in [`crate::wiring::job_types`]. Enqueue it with [`shared::jobs::enqueue`] and
//! `NewJob::of(&payload)`.
//!
//! The jobs API, one file per endpoint: [`create_job`] (of the [`creatable`] types only),
//! [`list_jobs`], [`get_job`], [`cancel_job`], [`retry_job`].
//!
//! The [`worker`] consumes the job queue: it loads the job record, runs the job through the
//! [`registry::Registry`], records the outcome and tells the queue when to deliver it again.

pub mod cancel_job;
pub mod creatable;
pub mod create_job;
pub mod erase_user;
pub mod export_users;
pub mod get_job;
pub mod list_jobs;
pub mod process_avatar;
pub mod registry;
pub mod retry_job;
pub mod send_email;
pub mod views;
pub mod worker;

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
pub use shared::jobs::JobPayload;
use uuid::Uuid;

/// How a job attempt failed. (How a job *record* failed to change is [`shared::jobs::JobError`].)
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// Worth another attempt later (a provider outage, a throttle).
    #[error("{0:#}")]
    Retryable(anyhow::Error),
    /// Will fail the same way every time (a bad payload, a rejected address).
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl JobFailure {
    pub fn is_retryable(&self) -> bool {
        matches!(self, JobFailure::Retryable(_))
    }
}

/// One kind of job: the handler of one [`JobPayload`] type.
#[async_trait]
pub trait JobType: Send + Sync + fmt::Debug + 'static {
    type Payload: JobPayload;

    /// Runs one attempt; the value returned is kept as the job's result.
    async fn run(&self, payload: Self::Payload) -> Result<Value, JobFailure>;

    /// Runs one attempt of the job `id`. A job whose effect leaves the system (a mail) keys
    /// it by the id, so an attempt that died after the effect and before its record does not
    /// have it twice; the others need only [`JobType::run`].
    async fn run_job(&self, id: Uuid, payload: Self::Payload) -> Result<Value, JobFailure> {
        let _ = id;
        self.run(payload).await
    }
}
