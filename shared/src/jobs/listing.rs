//! Listing jobs a page at a time, by status (most recently changed first), by type (newest
//! first), or both.
//!
//! A status alone reads its [`JOB_SHARDS`] lanes of `gsi1`, a type (with or without a
//! status) its lanes of `gsi2`, nothing at all every status's lanes; the lanes are merged
//! ([`crate::paging::lanes`]). With both filters the status is checked on what the type's lanes
//! give, so such a page reads at most [`FILTERED_READS`] × `limit` entries and may come back
//! short, with a cursor to go on. A job moves in the index whenever it changes, so one that
//! changes while a client pages may show twice or not at all: the list is an operator's view,
//! not a ledger. Cursors are sealed with the filters ([`crate::paging`]).

use crate::jobs::job::{Job, JobStatus};
use crate::jobs::repo::{
    JOB_SHARDS, JobRepo, by_change, by_creation, status_partition, type_partition,
};
use crate::paging::lanes::{Merge, Resume};
use crate::paging::{CursorKey, InvalidCursor, ListError};
use crate::store::Index;

pub const MAX_LIMIT: usize = 100;

/// How many entries a page filtered by type and status reads per entry it may return.
pub const FILTERED_READS: usize = 5;

#[derive(Debug, Clone)]
pub struct JobListRequest {
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct JobListPage {
    pub jobs: Vec<Job>,
    pub next: Option<String>,
}

impl JobListRequest {
    fn scope(&self) -> String {
        let status = self.status.map_or("", JobStatus::as_str);
        let job_type = self.job_type.as_deref().unwrap_or("");
        format!("jobs?status={status}&type={job_type}")
    }

    /// The lanes to read, and whether the status is checked on what they give.
    fn partitions(&self) -> (Index, Vec<String>, bool) {
        let shards = 0..JOB_SHARDS;
        match (&self.job_type, self.status) {
            (Some(job_type), status) => (
                Index::Gsi2,
                shards.map(|s| type_partition(job_type, s)).collect(),
                status.is_some(),
            ),
            (None, Some(status)) => (
                Index::Gsi1,
                shards.map(|s| status_partition(status, s)).collect(),
                false,
            ),
            (None, None) => (
                Index::Gsi1,
                JobStatus::ALL
                    .iter()
                    .flat_map(|status| shards.clone().map(|s| status_partition(*status, s)))
                    .collect(),
                false,
            ),
        }
    }
}

impl JobRepo {
    pub async fn list(
        &self,
        key: &CursorKey,
        request: &JobListRequest,
    ) -> Result<JobListPage, ListError> {
        let limit = request.limit.clamp(1, MAX_LIMIT);
        let scope = request.scope();
        let (index, partitions, filtered) = request.partitions();
        let resume = match &request.cursor {
            Some(cursor) => {
                let resume: Vec<Resume> = key.open(&scope, cursor)?;
                if resume.len() != partitions.len() {
                    return Err(InvalidCursor.into());
                }
                resume
            }
            None => vec![Resume::Start; partitions.len()],
        };
        let status = request.status;
        let (jobs, resume) = Merge {
            store: self.store().as_ref(),
            index,
            partitions,
            resume,
            limit,
            max_read: if filtered {
                limit * FILTERED_READS
            } else {
                limit
            },
            sort_key: if index == Index::Gsi2 {
                by_creation
            } else {
                by_change
            },
            keep: &|job: &Job| status.is_none_or(|s| job.status == s),
        }
        .page()
        .await?;
        let next = resume
            .iter()
            .any(|r| *r != Resume::Done)
            .then(|| key.seal(&scope, &resume));
        Ok(JobListPage { jobs, next })
    }
}
