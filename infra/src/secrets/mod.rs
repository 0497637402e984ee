//! Secrets adapters.

pub mod secrets_manager;
