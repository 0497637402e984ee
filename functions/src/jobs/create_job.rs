//! `POST /api/v1/jobs` (jobs:create): `{type, payload?, delay_seconds?}` → 202 `{job}`, queued.
//! Only the types declared [creatable](crate::jobs::creatable) are accepted; any other name,
//! internal ones included, is 400 like an unknown type, and so is a payload its type does not
//! take. `delay_seconds` is 0 to 900 (the queue's longest delay).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::clock::{Clock, Random};
use shared::jobs::enqueue::DEFAULT_MAX_ATTEMPTS;
use shared::jobs::{JobRepo, NewJob, enqueue};
use shared::queue::MAX_DELAY;

use crate::http::{ApiError, FieldError, Handler, Json};
use crate::jobs::{creatable, views};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateJobRequest, example = json!({"type": "export_users", "payload": {"status": "active"}, "delay_seconds": 0}))]
pub(crate) struct Body {
    #[serde(rename = "type")]
    #[schema(schema_with = crate::openapi::schemas::creatable_job_type)]
    job_type: String,
    #[serde(default = "empty")]
    #[schema(value_type = Object)]
    payload: Value,
    #[serde(default)]
    #[schema(maximum = 900)]
    delay_seconds: u64,
}

fn empty() -> Value {
    json!({})
}

#[derive(Debug, Clone)]
pub struct Ports {
    pub jobs: JobRepo,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
}

pub fn handler(ports: Ports) -> Handler {
    crate::http::handler(handle, ports)
}

async fn handle(
    State(ports): State<Ports>,
    Json(body): Json<Body>,
) -> Result<impl IntoResponse, ApiError> {
    let mut errors = Vec::new();
    let kind = creatable::find(&body.job_type);
    match kind {
        None => errors.push(FieldError::new(
            "type",
            format!("must be one of: {}", creatable::names()),
        )),
        Some(kind) => {
            if let Err(why) = kind.check(&body.payload) {
                errors.push(FieldError::new("payload", why));
            }
        }
    }
    if body.delay_seconds > MAX_DELAY.as_secs() {
        errors.push(FieldError::new(
            "delay_seconds",
            format!("must be at most {}", MAX_DELAY.as_secs()),
        ));
    }
    let Some(kind) = kind.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let new = NewJob {
        job_type: kind.name,
        payload: body.payload,
        max_attempts: DEFAULT_MAX_ATTEMPTS,
        delay: Duration::from_secs(body.delay_seconds),
    };
    let store = ports.jobs.store();
    let job = enqueue(
        store.as_ref(),
        ports.clock.as_ref(),
        ports.random.as_ref(),
        new,
    )
    .await?;
    tracing::info!(job_id = %job.id, job_type = kind.name, "job created over the API");
    Ok((StatusCode::ACCEPTED, views::job(&job)))
}
