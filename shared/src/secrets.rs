//! The secrets port: named secret strings (Secrets Manager on AWS, owner-only files locally).
//!
//! Implementations may cache values in the process for a few minutes, so a changed secret is
//! seen within that time, not at once. Values are never logged.

use std::fmt;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("invalid secret name {0:?}")]
    InvalidName(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Checks a name: 1..=256 characters of `[A-Za-z0-9/_+=.@-]`, and not a path outside the store.
pub fn check_name(name: &str) -> Result<(), SecretsError> {
    let valid = !name.is_empty()
        && name.len() <= 256
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
        && name.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    if valid { Ok(()) } else { Err(SecretsError::InvalidName(name.to_owned())) }
}

#[async_trait]
pub trait Secrets: Send + Sync + fmt::Debug {
    /// The secret's current value, or `None` when there is no secret of that name.
    async fn get(&self, name: &str) -> Result<Option<String>, SecretsError>;

    /// Creates the secret or stores a new value for it.
    async fn put(&self, name: &str, value: &str) -> Result<(), SecretsError>;

    /// Creates the secret only if there is none of that name yet; returns whether it did. Two
    /// racing creators never both succeed, so a value generated on first use is generated once.
    async fn create(&self, name: &str, value: &str) -> Result<bool, SecretsError>;
}
