//! `POST /api/v1/jobs/{id}/cancel`: a queued job is cancelled (200); a job in any other status
//! cannot be (409 `invalid_state`).

use std::sync::Arc;

use axum::extract::{Path, State};
use serde_json::Value;
use shared::clock::Clock;
use shared::jobs::JobRepo;
use uuid::Uuid;

use crate::http::{ApiError, Handler};
use crate::jobs::views;

pub fn handler(jobs: JobRepo, clock: Arc<dyn Clock>) -> Handler {
    crate::http::handler(handle, (jobs, clock))
}

async fn handle(
    State((jobs, clock)): State<(JobRepo, Arc<dyn Clock>)>,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Value>, ApiError> {
    Ok(views::job(&jobs.cancel(id, clock.now()).await?))
}
