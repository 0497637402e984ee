//! `jobs list|show|retry|cancel`: the use cases behind `/api/v1/jobs`, run by an operator.
//!
//! Listing is the endpoint's [`JobRepo::list`], page after page; retry and cancel are
//! [`JobRepo::retry`] and [`JobRepo::cancel`], with the endpoint's rules (retry a failed or dead
//! job, cancel a queued one). A job's payload is never printed: a `send_email` job's holds the
//! one-time token of the link it mails.

use anyhow::{Context, bail};
use chrono::SecondsFormat;
use shared::jobs::listing::{JobListRequest, MAX_LIMIT};
use shared::jobs::{Job, JobRepo, JobStatus};
use shared::paging::CursorKey;
use uuid::Uuid;

use super::table;
use infra::compose::Backend;

/// How many jobs `jobs list` shows unless `--limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobsCommand {
    List(ListFilter),
    Show(Uuid),
    Retry(Uuid),
    Cancel(Uuid),
}

/// What `jobs list` shows: the endpoint's filters, and how many jobs in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
    pub limit: usize,
}

impl Default for ListFilter {
    fn default() -> Self {
        Self {
            status: None,
            job_type: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl JobsCommand {
    /// Reads what follows `jobs`.
    pub(super) fn parse(words: &mut impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let id = |word: Option<String>, command: &str| -> anyhow::Result<Uuid> {
            let word = word.with_context(|| format!("jobs {command} needs a job id"))?;
            Uuid::parse_str(&word).with_context(|| format!("{word:?} is not a job id"))
        };
        match words.next().as_deref() {
            Some("list") => {
                let mut filter = ListFilter::default();
                while let Some(option) = words.next() {
                    let mut value = || {
                        words
                            .next()
                            .with_context(|| format!("{option} needs a value"))
                    };
                    match option.as_str() {
                        "--status" => filter.status = Some(status(&value()?)?),
                        "--type" => filter.job_type = Some(value()?),
                        "--limit" => filter.limit = super::positive("--limit", &value()?)?,
                        other => bail!("unexpected argument {other:?}"),
                    }
                }
                Ok(Self::List(filter))
            }
            Some("show") => Ok(Self::Show(id(words.next(), "show")?)),
            Some("retry") => Ok(Self::Retry(id(words.next(), "retry")?)),
            Some("cancel") => Ok(Self::Cancel(id(words.next(), "cancel")?)),
            _ => bail!("jobs takes one of: list, show ID, retry ID, cancel ID"),
        }
    }

    pub(super) async fn run(
        self,
        backend: &dyn Backend,
        progress: &mut dyn FnMut(&str),
    ) -> anyhow::Result<String> {
        let jobs = JobRepo::new(backend.store()?);
        match self {
            Self::List(filter) => list(&jobs, backend, filter, progress).await,
            Self::Show(id) => show(&jobs.existing(id).await?),
            Self::Retry(id) => {
                let now = backend.clock().now();
                let job = jobs.retry(id, now, backend.random().as_ref()).await?;
                // The message goes out as the API's retry sends it: an outbox event the relay
                // publishes (locally, once the local system runs).
                Ok(format!(
                    "job {} ({}) is queued again, with all {} attempts",
                    job.id, job.job_type, job.max_attempts
                ))
            }
            Self::Cancel(id) => {
                let job = jobs.cancel(id, backend.clock().now()).await?;
                Ok(format!("job {} ({}) is cancelled", job.id, job.job_type))
            }
        }
    }
}

fn status(word: &str) -> anyhow::Result<JobStatus> {
    JobStatus::ALL
        .iter()
        .copied()
        .find(|s| s.as_str() == word)
        .with_context(|| {
            let names: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("--status must be one of {}, not {word:?}", names.join(", "))
        })
}

/// Up to `filter.limit` jobs as a table, following the listing's cursors.
async fn list(
    jobs: &JobRepo,
    backend: &dyn Backend,
    filter: ListFilter,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<String> {
    // The cursors never leave this process, so a key of its own seals them: listing needs no
    // access to the API's cursor secret, and does not create it on a stack that has none yet.
    let mut secret = [0u8; 32];
    backend.random().fill(&mut secret);
    let key = CursorKey::from_secret(&hex::encode(secret));
    let mut request = JobListRequest {
        status: filter.status,
        job_type: filter.job_type,
        limit: 0,
        cursor: None,
    };
    let mut found: Vec<Job> = Vec::new();
    let more = loop {
        request.limit = (filter.limit - found.len()).min(MAX_LIMIT);
        let page = jobs.list(&key, &request).await.context("listing jobs")?;
        found.extend(page.jobs);
        match page.next {
            Some(next) if found.len() < filter.limit => {
                progress(&format!("{} jobs read…", found.len()));
                request.cursor = Some(next);
            }
            next => break next.is_some(),
        }
    };
    if found.is_empty() {
        return Ok("no jobs".to_owned());
    }
    let rows: Vec<[String; 5]> = found.iter().map(row).collect();
    let table = table::render(["id", "type", "status", "attempts", "updated"], &rows);
    let count = match (found.len(), more) {
        (1, false) => "1 job".to_owned(),
        (n, false) => format!("{n} jobs"),
        (n, true) => format!("the first {n} jobs; more follow (raise --limit)"),
    };
    Ok(format!("{table}\n{count}"))
}

fn row(job: &Job) -> [String; 5] {
    [
        job.id.to_string(),
        job.job_type.clone(),
        job.status.to_string(),
        format!("{}/{}", job.attempts, job.max_attempts),
        job.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
    ]
}

/// The job as pretty JSON, without its payload.
fn show(job: &Job) -> anyhow::Result<String> {
    let mut view = serde_json::to_value(job).context("encoding the job")?;
    if let Some(fields) = view.as_object_mut() {
        fields.remove("payload");
    }
    Ok(serde_json::to_string_pretty(&view)?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};
    use shared::jobs::{NewJob, enqueue};

    use super::*;
    use crate::admin::tests::{admin, local};

    /// Enqueues a job of `job_type` with `payload`, as the API or a use case would.
    async fn job(backend: &dyn Backend, job_type: &'static str, payload: Value) -> Job {
        let new = NewJob {
            job_type,
            payload,
            max_attempts: 3,
            delay: Duration::ZERO,
        };
        let store = backend.store().unwrap();
        enqueue(
            store.as_ref(),
            backend.clock().as_ref(),
            &*backend.random(),
            new,
        )
        .await
        .unwrap()
    }

    /// The job, started by a worker.
    async fn running(backend: &dyn Backend, job: &Job) -> Job {
        let repo = JobRepo::new(backend.store().unwrap());
        let started = job.start(backend.clock().now()).unwrap();
        repo.save(job, &started).await.unwrap()
    }

    /// The job, its attempt failed (it waits for its next delivery).
    async fn failed(backend: &dyn Backend, job: &Job) -> Job {
        let repo = JobRepo::new(backend.store().unwrap());
        let running = running(backend, job).await;
        let failed = running.fail("boom", true, backend.clock().now()).unwrap();
        repo.save(&running, &failed).await.unwrap()
    }

    async fn status_of(backend: &dyn Backend, id: Uuid) -> JobStatus {
        let repo = JobRepo::new(backend.store().unwrap());
        repo.existing(id).await.unwrap().status
    }

    #[tokio::test]
    async fn jobs_list_shows_a_table_filtered_by_status_and_type() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = local(dir.path()).await?;
        let export = job(&backend, "export_users", json!({})).await;
        let purge = job(&backend, "purge_expired", json!({})).await;
        let broken = failed(&backend, &job(&backend, "export_users", json!({})).await).await;

        let (all, _) = admin(dir.path(), &["jobs", "list"]).await?;
        let lines: Vec<&str> = all.lines().collect();
        assert_eq!(
            lines
                .first()
                .map(|l| l.split_whitespace().collect::<Vec<_>>()),
            Some(vec!["id", "type", "status", "attempts", "updated"]),
            "{all}"
        );
        for id in [export.id, purge.id, broken.id] {
            assert!(all.contains(&id.to_string()), "{id} missing: {all}");
        }
        assert_eq!(lines.last(), Some(&"3 jobs"), "{all}");
        let failed_row = lines
            .iter()
            .find(|l| l.starts_with(&broken.id.to_string()))
            .map(|l| l.split_whitespace().collect::<Vec<_>>());
        assert_eq!(
            failed_row.map(|cells| cells[1..4].join(" ")),
            Some("export_users failed 1/3".to_owned())
        );

        let (failed_only, _) = admin(dir.path(), &["jobs", "list", "--status", "failed"]).await?;
        assert!(
            failed_only.contains(&broken.id.to_string()),
            "{failed_only}"
        );
        assert!(
            !failed_only.contains(&export.id.to_string()),
            "{failed_only}"
        );
        assert!(failed_only.ends_with("\n1 job"), "{failed_only}");

        let (purges, _) = admin(dir.path(), &["jobs", "list", "--type", "purge_expired"]).await?;
        assert!(purges.contains(&purge.id.to_string()), "{purges}");
        assert!(!purges.contains(&export.id.to_string()), "{purges}");
        Ok(())
    }

    #[tokio::test]
    async fn jobs_list_follows_cursors_up_to_its_limit_and_reports_progress() -> anyhow::Result<()>
    {
        let dir = tempfile::tempdir()?;
        let backend = local(dir.path()).await?;
        // More than one page of the listing (at most MAX_LIMIT jobs).
        let total = MAX_LIMIT + 5;
        for _ in 0..total {
            job(&backend, "purge_expired", json!({})).await;
        }

        let (some, progress) = admin(dir.path(), &["jobs", "list", "--limit", "103"]).await?;
        assert_eq!(some.lines().count(), 1 + 103 + 1, "header, rows, count");
        assert!(
            some.ends_with("the first 103 jobs; more follow (raise --limit)"),
            "{some}"
        );
        assert_eq!(progress, [format!("{MAX_LIMIT} jobs read…")]);

        let (every, _) = admin(dir.path(), &["jobs", "list", "--limit", "500"]).await?;
        assert!(every.ends_with(&format!("\n{total} jobs")), "{every}");
        let ids: std::collections::HashSet<&str> = every
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(ids.len(), total + 1, "every job once, and the count line");
        Ok(())
    }

    #[tokio::test]
    async fn jobs_show_prints_the_job_without_its_payload() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = local(dir.path()).await?;
        let secret = "a-mailed-one-time-token";
        let queued = job(&backend, "send_email", json!({"token": secret})).await;

        let (said, _) = admin(dir.path(), &["jobs", "show", &queued.id.to_string()]).await?;
        assert!(!said.contains(secret), "{said}");
        let shown: Value = serde_json::from_str(&said)?;
        assert_eq!(shown["id"], json!(queued.id));
        assert_eq!(shown["job_type"], "send_email");
        assert_eq!(shown["status"], "queued");
        assert_eq!(shown["max_attempts"], 3);
        assert!(shown.get("payload").is_none(), "{said}");
        assert!(said.contains("\n  \"status\""), "pretty printed: {said}");

        let missing = admin(dir.path(), &["jobs", "show", &Uuid::nil().to_string()]).await;
        let error = format!("{:#}", missing.unwrap_err());
        assert!(error.contains("not found"), "{error}");
        Ok(())
    }

    #[tokio::test]
    async fn jobs_retry_queues_a_failed_job_again_and_refuses_a_queued_one() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = local(dir.path()).await?;
        let broken = failed(&backend, &job(&backend, "export_users", json!({})).await).await;
        let queued = job(&backend, "export_users", json!({})).await;

        let (said, _) = admin(dir.path(), &["jobs", "retry", &broken.id.to_string()]).await?;
        assert!(said.contains("queued again"), "{said}");
        let retried = JobRepo::new(backend.store()?).existing(broken.id).await?;
        assert_eq!((retried.status, retried.attempts), (JobStatus::Queued, 0));
        // Its new message waits in the outbox for the relay, as the API's retry leaves it.
        let pending = shared::messaging::outbox::pending_summary(
            backend.store()?.as_ref(),
            backend.clock().now(),
        )
        .await?;
        assert_eq!(pending.count, 3, "two enqueued, one retried");

        let refused = admin(dir.path(), &["jobs", "retry", &queued.id.to_string()]).await;
        let error = format!("{:#}", refused.unwrap_err());
        assert!(error.contains("is queued and cannot be retried"), "{error}");
        assert_eq!(status_of(&backend, queued.id).await, JobStatus::Queued);
        Ok(())
    }

    #[tokio::test]
    async fn jobs_cancel_cancels_a_queued_job_and_refuses_a_running_one() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = local(dir.path()).await?;
        let queued = job(&backend, "export_users", json!({})).await;
        let busy = running(&backend, &job(&backend, "export_users", json!({})).await).await;

        let (said, _) = admin(dir.path(), &["jobs", "cancel", &queued.id.to_string()]).await?;
        assert_eq!(
            said,
            format!("job {} (export_users) is cancelled", queued.id)
        );
        assert_eq!(status_of(&backend, queued.id).await, JobStatus::Cancelled);

        let refused = admin(dir.path(), &["jobs", "cancel", &busy.id.to_string()]).await;
        let error = format!("{:#}", refused.unwrap_err());
        assert!(
            error.contains("is running and cannot be cancelled"),
            "{error}"
        );
        assert_eq!(status_of(&backend, busy.id).await, JobStatus::Running);
        Ok(())
    }
}
