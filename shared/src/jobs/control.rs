//! What an operator does to one job: cancel it before it runs, or queue a failed or dead one
//! again with all its attempts.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::clock::Random;
use crate::jobs::enqueue::requeue;
use crate::jobs::job::{Job, JobError};
use crate::jobs::repo::JobRepo;

impl JobRepo {
    /// The job, or [`JobError::NotFound`].
    pub async fn existing(&self, id: Uuid) -> Result<Job, JobError> {
        self.get(id).await?.ok_or(JobError::NotFound(id))
    }

    /// Cancels a queued job; [`JobError::Conflict`] for any other status (or a concurrent
    /// change). Its message may still arrive: the worker skips a cancelled job.
    pub async fn cancel(&self, id: Uuid, now: DateTime<Utc>) -> Result<Job, JobError> {
        let job = self.existing(id).await?;
        let cancelled = job.cancel(now)?;
        self.save(&job, &cancelled).await
    }

    /// Queues a failed or dead job again, with a new message (the dead-lettered one stays where
    /// it is, for the record); [`JobError::Conflict`] for any other status.
    pub async fn retry(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        random: &dyn Random,
    ) -> Result<Job, JobError> {
        let job = self.existing(id).await?;
        let retried = job.retry(now)?;
        requeue(self.store().as_ref(), random, &job, &retried).await
    }
}
