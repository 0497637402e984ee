//! How jobs and their errors read over HTTP.

use serde_json::{Value, json};
use shared::jobs::{Job, JobError};

use crate::http::ApiError;
use crate::jobs::creatable;

/// A job as `{"job": ...}`.
pub fn job(job: &Job) -> axum::Json<Value> {
    axum::Json(json!({ "job": shown(job) }))
}

/// A job as the API shows it: the payload only of the types an administrator may create, whose
/// input they wrote. An internal job's payload can hold what no reader of jobs should see (a
/// `send_email` job carries the link of a password reset), so it reads as `null`.
pub fn shown(job: &Job) -> Value {
    let mut shown = json!(job);
    if creatable::find(&job.job_type).is_none() {
        shown["payload"] = Value::Null;
    }
    shown
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use uuid::Uuid;

    fn job_of(job_type: &str, payload: Value) -> Job {
        let now = Utc::now();
        Job::new(Uuid::now_v7(), job_type, payload, 3, now, now)
    }

    #[test]
    fn an_internal_jobs_payload_is_never_shown() {
        let mail = job_of(
            "send_email",
            json!({"to": "ada@example.com", "link": "https://app.example/reset-password?token=secret"}),
        );
        let shown = shown(&mail);
        assert_eq!(shown["payload"], Value::Null);
        assert!(!shown.to_string().contains("secret"), "{shown}");
        let export = job_of("export_users", json!({"status": "active"}));
        assert_eq!(shown_payload(&export), json!({"status": "active"}));
    }

    fn shown_payload(job: &Job) -> Value {
        shown(job)["payload"].clone()
    }
}
