//! Scheduled maintenance of the system's data, one file per schedule. Each is also a job type,
//! so an operator can run it on demand.

pub mod cleanup_unverified_users;
pub mod purge_expired;
pub mod reconcile_outbox;
pub mod redrive_stuck_jobs;
