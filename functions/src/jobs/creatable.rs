//! The job types an operator may create over HTTP (`POST /api/v1/jobs`), each checked against
//! its payload type before anything is enqueued. The others (`send_email`, `erase_user`, ...)
//! are caused by the system itself: asked for over HTTP they are refused like an unknown
//! type. Declare a type creatable by adding it to [`CREATABLE`]; it must be registered with
//! the worker too ([`crate::wiring::job_types`]), which a test checks.

use serde_json::Value;

use crate::jobs::JobPayload;
use crate::jobs::export_users::ExportUsersRequest;
use crate::maintenance::cleanup_unverified_users::CleanupRequest;
use crate::maintenance::purge_expired::PurgeRequest;
use crate::maintenance::redrive_stuck_jobs::RedriveRequest;

/// One job type that may be created over HTTP.
#[derive(Debug, Clone, Copy)]
pub struct Creatable {
    pub name: &'static str,
    check: fn(&Value) -> Result<(), String>,
}

impl Creatable {
    pub const fn of<P: JobPayload>() -> Self {
        Self {
            name: P::JOB_TYPE,
            check: check::<P>,
        }
    }

    /// Whether `payload` is a payload of this type; why not otherwise.
    pub fn check(&self, payload: &Value) -> Result<(), String> {
        (self.check)(payload)
    }
}

fn check<P: JobPayload>(payload: &Value) -> Result<(), String> {
    P::deserialize(payload)
        .map(drop)
        .map_err(|e| format!("is not a {} payload: {e}", P::JOB_TYPE))
}

pub const CREATABLE: &[Creatable] = &[
    Creatable::of::<ExportUsersRequest>(),
    Creatable::of::<PurgeRequest>(),
    Creatable::of::<CleanupRequest>(),
    Creatable::of::<RedriveRequest>(),
];

/// The creatable type of this name.
pub fn find(name: &str) -> Option<&'static Creatable> {
    CREATABLE.iter().find(|c| c.name == name)
}

/// The names of the creatable types, for error messages.
pub fn names() -> String {
    CREATABLE
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}
