//! Background jobs: the job types, the registry that runs them by name, and the worker.
//!
//! A job type is one file with its payload type and its handler, implementing [`JobType`]
//! ([`send_email`], [`purge_expired`], [`redrive_stuck_jobs`],
//! [`cleanup_unverified_users`]). To add one: write the file,
//! then register it in [`registry::standard`]. Enqueue it with [`shared::jobs::enqueue`].
//!
//! The [`worker`] consumes the job queue: it loads the job record, runs the job through the
//! [`registry::Registry`], records the outcome and tells the queue when to deliver it again.

pub mod cleanup_unverified_users;
pub mod purge_expired;
pub mod redrive_stuck_jobs;
pub mod registry;
pub mod send_email;
pub mod worker;

use std::fmt;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How a job attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt later (a provider outage, a throttle).
    #[error("{0:#}")]
    Retryable(anyhow::Error),
    /// Will fail the same way every time (a bad payload, a rejected address).
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl JobError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, JobError::Retryable(_))
    }
}

/// One kind of job.
#[async_trait]
pub trait JobType: Send + Sync + fmt::Debug + 'static {
    /// The name jobs of this type are enqueued under.
    const NAME: &'static str;
    /// Whether the payload holds a secret (a link token): the worker then drops it from the job
    /// record once the job succeeded.
    const SENSITIVE: bool = false;
    type Payload: DeserializeOwned + Serialize + Send;

    /// Runs one attempt; the value returned is kept as the job's result.
    async fn run(&self, payload: Self::Payload) -> Result<Value, JobError>;
}

/// The payload of a job type that needs no input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NoPayload {}
