//! `GET /api/v1/jobs/{id}`: one job: its status, attempts, last error, result and times.

use axum::extract::{Path, State};
use serde_json::Value;
use shared::jobs::JobRepo;
use uuid::Uuid;

use crate::http::{ApiError, Handler};
use crate::jobs::views;

pub fn handler(jobs: JobRepo) -> Handler {
    crate::http::handler(handle, jobs)
}

async fn handle(
    State(jobs): State<JobRepo>,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Value>, ApiError> {
    Ok(views::job(&jobs.existing(id).await?))
}
