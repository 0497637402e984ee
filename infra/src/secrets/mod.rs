//! Secrets adapters.

#[cfg(feature = "local")]
pub mod local;
#[cfg(feature = "aws")]
pub mod secrets_manager;
