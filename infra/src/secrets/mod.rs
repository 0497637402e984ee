//! Secrets adapters.

pub mod secrets_manager;
pub mod local;
