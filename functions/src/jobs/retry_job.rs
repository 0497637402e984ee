//! `POST /api/v1/jobs/{id}/retry`: a failed or dead job is queued again with all its attempts
//! and a new message (200); a job in any other status cannot be (409 `invalid_state`).

use std::sync::Arc;

use axum::extract::{Path, State};
use serde_json::Value;
use shared::clock::{Clock, Random};
use shared::jobs::JobRepo;
use uuid::Uuid;

use crate::http::{ApiError, Handler};
use crate::jobs::views;

#[derive(Clone)]
struct Ports {
    jobs: JobRepo,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

pub fn handler(jobs: JobRepo, clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Handler {
    crate::http::handler(
        handle,
        Ports {
            jobs,
            clock,
            random,
        },
    )
}

async fn handle(
    State(ports): State<Ports>,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Value>, ApiError> {
    let now = ports.clock.now();
    let job = ports.jobs.retry(id, now, ports.random.as_ref()).await?;
    Ok(views::job(&job))
}
