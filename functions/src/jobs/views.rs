//! How jobs and their errors read over HTTP.

use serde_json::{Value, json};
use shared::jobs::{Job, JobError};

use crate::http::ApiError;

/// A job as `{"job": ...}`.
pub fn job(job: &Job) -> axum::Json<Value> {
    axum::Json(json!({ "job": job }))
}

impl From<JobError> for ApiError {
    fn from(error: JobError) -> Self {
        match error {
            JobError::NotFound(_) => ApiError::NotFound,
            JobError::Conflict(detail) => ApiError::Conflict {
                code: "invalid_state",
                detail,
            },
            JobError::Unexpected(e) => ApiError::Internal(e),
        }
    }
}
