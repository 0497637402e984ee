//! Endpoints about the system itself rather than any resource.

pub mod health;
