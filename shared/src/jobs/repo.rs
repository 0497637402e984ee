//! Jobs in the item store.
//!
//! A job is the item `JOB#<id>` / `JOB`. Its `gsi1` keys list jobs by status
//! (`JOBS#<status>#<shard>`, sorted by `<updated_at>#<id>`, so "running since before T" —
//! stuck jobs — is a range query per shard), its `gsi2` keys by type
//! (`JOBTYPE#<type>#<shard>`, sorted by `<created_at>#<id>`: a key that never changes, so a
//! job's change rewrites its entry in place instead of moving it).
//! Both are spread over [`JOB_SHARDS`] keys by the random end of the job's id: every enqueue,
//! start and finish moves a job in the index, and one key takes about 1,000 writes a second.
//! Every save is conditional on the version the caller read and bumps it, so two deliveries of
//! one job cannot both move it.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::jobs::job::{Job, JobError, JobStatus};
use crate::store::{
    Condition, Index, IndexKey, Item, ItemStore, Key, Query, SortKey, StoreError, Write,
};

/// How long a succeeded or cancelled job is kept; failed and dead ones stay until handled.
pub const RETENTION: TimeDelta = TimeDelta::days(30);

pub fn job_key(id: Uuid) -> Key {
    Key::new(format!("JOB#{id}"), "JOB")
}

/// How many keys each jobs index is spread over.
pub const JOB_SHARDS: u8 = 8;

fn shard_of(id: Uuid) -> u8 {
    id.as_bytes()[15] % JOB_SHARDS
}

/// The `gsi1` key of one shard of the jobs in `status`.
pub fn status_partition(status: JobStatus, shard: u8) -> String {
    format!("JOBS#{status}#{shard}")
}

/// The `gsi2` key of one shard of the jobs of a type.
pub fn type_partition(job_type: &str, shard: u8) -> String {
    format!("JOBTYPE#{job_type}#{shard}")
}

/// The sort key of a job in the status index: its last change, then its id.
pub fn by_change(job: &Job) -> String {
    format!("{}#{}", sort_time(job.updated_at), job.id)
}

/// The sort key of a job in the type index: its creation, then its id.
pub fn by_creation(job: &Job) -> String {
    format!("{}#{}", sort_time(job.created_at), job.id)
}

fn sort_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The item a job is stored as.
pub fn job_item(job: &Job) -> Result<Item, StoreError> {
    let shard = shard_of(job.id);
    let by_status = IndexKey::new(status_partition(job.status, shard), by_change(job));
    let by_type = IndexKey::new(type_partition(&job.job_type, shard), by_creation(job));
    let item = Item::from_record(job_key(job.id), job)?
        .with_index(Index::Gsi1, by_status)
        .with_index(Index::Gsi2, by_type);
    Ok(match job.status {
        JobStatus::Succeeded | JobStatus::Cancelled => item.expiring_at(job.updated_at + RETENTION),
        _ => item,
    })
}

/// The write that creates a new job (and fails if its id is taken).
pub fn insert_write(job: &Job) -> Result<Write, StoreError> {
    Ok(Write::put_if(job_item(job)?, Condition::Absent))
}

/// The write that replaces a job read at `job.version`, storing `changed` with the next version.
/// Returns the job as stored.
pub fn update_write(read: &Job, changed: &Job) -> Result<(Write, Job), StoreError> {
    let stored = Job {
        version: read.version + 1,
        ..changed.clone()
    };
    let condition = Condition::Equals("version".into(), json!(read.version));
    Ok((Write::put_if(job_item(&stored)?, condition), stored))
}

/// One page of a query of jobs.
#[derive(Debug, Clone, PartialEq, Default)]
struct JobPage {
    jobs: Vec<Job>,
}

#[derive(Debug, Clone)]
pub struct JobRepo {
    store: Arc<dyn ItemStore>,
}

impl JobRepo {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Arc<dyn ItemStore> {
        &self.store
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<Job>, JobError> {
        match self.store.get(&job_key(id)).await? {
            Some(item) => Ok(Some(item.record()?)),
            None => Ok(None),
        }
    }

    /// Replaces `read` with `changed` if nobody saved the job since `read` was read; returns the
    /// job as stored. [`JobError::Conflict`] when someone did.
    pub async fn save(&self, read: &Job, changed: &Job) -> Result<Job, JobError> {
        let (write, stored) = update_write(read, changed)?;
        self.store
            .transact(vec![write])
            .await
            .map_err(|e| conflict(e, read.id))?;
        Ok(stored)
    }

    /// Up to `limit` jobs `running` whose attempt started before `cutoff`, oldest first. The
    /// index is eventually consistent on AWS: callers re-read a job before changing it.
    pub async fn running_since_before(
        &self,
        cutoff: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Job>, JobError> {
        let limit = limit.clamp(1, 1000);
        let reads = (0..JOB_SHARDS).map(|shard| {
            let query = Query::index(Index::Gsi1, status_partition(JobStatus::Running, shard))
                .sort_key(SortKey::LessThan(sort_time(cutoff)))
                .limit(limit);
            self.page(query)
        });
        let mut jobs: Vec<Job> = futures_util::future::try_join_all(reads)
            .await?
            .into_iter()
            .flat_map(|page| page.jobs)
            .collect();
        jobs.sort_by_key(by_change);
        jobs.truncate(limit);
        Ok(jobs)
    }

    async fn page(&self, query: Query) -> Result<JobPage, JobError> {
        let page = self.store.query(query).await?;
        let jobs = page
            .items
            .iter()
            .map(Item::record)
            .collect::<Result<_, _>>()?;
        Ok(JobPage { jobs })
    }
}

/// A failed condition on a job's write means someone else changed it first.
pub(crate) fn conflict(e: StoreError, id: Uuid) -> JobError {
    match e {
        StoreError::ConditionFailed { .. } => {
            JobError::Conflict(format!("job {id} was changed concurrently"))
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: JobStatus) -> Job {
        let at = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        Job {
            status,
            ..Job::new(
                Uuid::nil(),
                "noop",
                json!({"to": "a@example.com"}),
                3,
                at,
                at,
            )
        }
    }

    #[test]
    fn a_job_is_listed_under_its_status_by_time() {
        let item = job_item(&job(JobStatus::Running)).ok();
        let index = item.as_ref().and_then(|i| i.gsi1.clone());
        let expected = format!("2025-11-24T16:00:00.000Z#{}", Uuid::nil());
        assert_eq!(
            index,
            Some(IndexKey::new("JOBS#running#0", expected.clone()))
        );
        let by_type = item.as_ref().and_then(|i| i.gsi2.clone());
        assert_eq!(by_type, Some(IndexKey::new("JOBTYPE#noop#0", expected)));
        assert_eq!(
            item.as_ref().map(|i| i.key.clone()),
            Some(job_key(Uuid::nil()))
        );
        assert!(item.is_some_and(|i| i.check_attribute_names().is_ok() && i.expires_at.is_none()));
    }

    #[test]
    fn finished_jobs_expire_and_unfinished_ones_do_not() {
        for status in JobStatus::ALL.iter().copied() {
            let expires = job_item(&job(status)).ok().and_then(|i| i.expires_at);
            let should = matches!(status, JobStatus::Succeeded | JobStatus::Cancelled);
            assert_eq!(expires.is_some(), should, "{status}");
        }
    }

    #[test]
    fn an_update_is_conditional_on_the_version_read_and_bumps_it() {
        let read = Job {
            version: 4,
            ..job(JobStatus::Queued)
        };
        let (write, stored) = update_write(&read, &read).unwrap();
        let Write::Put { item, condition } = write else {
            panic!("not a put: {write:?}")
        };
        assert_eq!(
            condition,
            Some(Condition::Equals("version".into(), json!(4)))
        );
        assert_eq!(stored.version, 5);
        assert_eq!(item.attrs["version"], json!(5));
    }
}
