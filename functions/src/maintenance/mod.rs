//! Scheduled maintenance of the system's data.

pub mod purge_expired;
pub mod reconcile_outbox;
