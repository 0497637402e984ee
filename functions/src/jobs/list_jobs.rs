//! `GET /api/v1/jobs` (jobs:list): a page of jobs, most recently changed first.
//! `?status=` (queued, running, succeeded, failed, dead, cancelled), `type=`, `limit=1..100`
//! (20 by default) and `cursor=` (the previous page's `next_cursor`, with the same filters).

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::jobs::JobRepo;
use shared::jobs::JobStatus;
use shared::jobs::listing::{JobListRequest, MAX_LIMIT};
use shared::paging::CachedCursorKey;

use crate::auth::errors::invalid;
use crate::http::pages::{self, Params};
use crate::http::{ApiError, Handler};
use crate::jobs::views;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    #[serde(default)]
    status: Option<String>,
    #[serde(default, rename = "type")]
    job_type: Option<String>,
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

pub fn handler(jobs: JobRepo, cursors: CachedCursorKey) -> Handler {
    crate::http::handler(handle, (jobs, cursors))
}

async fn handle(
    State((jobs, cursors)): State<(JobRepo, CachedCursorKey)>,
    Params(params): Params<Query>,
) -> Result<axum::Json<Value>, ApiError> {
    let request = request(params)?;
    let page = jobs
        .list(pages::cursor_key(&cursors).await?, &request)
        .await?;
    Ok(axum::Json(
        json!({ "items": page.jobs.iter().map(views::shown).collect::<Vec<_>>(), "next_cursor": page.next }),
    ))
}

fn request(params: Query) -> Result<JobListRequest, ApiError> {
    let limit = pages::limit(params.limit.as_deref(), MAX_LIMIT);
    let status = match params.status.as_deref() {
        None => Ok(None),
        Some(raw) => JobStatus::ALL
            .iter()
            .copied()
            .find(|s| s.as_str() == raw)
            .map(Some)
            .ok_or_else(|| {
                let names: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!("must be one of: {}", names.join(", "))
            }),
    };
    let job_type = match params.job_type {
        Some(t)
            if t.is_empty()
                || t.len() > 64
                || !t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
        {
            Err("must be a job type name (lowercase letters and _)".to_owned())
        }
        other => Ok(other),
    };
    match (limit, status, job_type) {
        (Ok(limit), Ok(status), Ok(job_type)) => Ok(JobListRequest {
            status,
            job_type,
            limit,
            cursor: params.cursor,
        }),
        (limit, status, job_type) => {
            let errors = [
                invalid("limit", limit.err()),
                invalid("status", status.err()),
                invalid("type", job_type.err()),
            ];
            Err(ApiError::Validation(errors.into_iter().flatten().collect()))
        }
    }
}
