//! Secrets adapters.

pub mod local;
pub mod secrets_manager;
