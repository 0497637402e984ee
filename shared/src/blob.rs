//! The blob store port: S3 semantics.
//!
//! Clients upload directly with a presigned POST (the API never proxies file bodies). The
//! policy signed into the form carries the conditions the store enforces at upload: the exact
//! key, the allowed content types, a content length range, and an expiry. Downloads go through
//! presigned GET URLs.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What an upload must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPolicy {
    /// The exact key the upload is stored under.
    pub key: String,
    /// The content type the upload must declare, exactly. Callers check it against their
    /// allow-list before presigning; the stored bytes are still untrusted until inspected.
    pub content_type: String,
    /// The largest accepted body, in bytes.
    pub max_bytes: u64,
    /// How long the form stays usable.
    pub expires_in: Duration,
}

/// A presigned POST: send `fields` as multipart form fields, then the file as the `file` field,
/// to `url`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PresignedPost {
    pub url: String,
    pub fields: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// A stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob key {0:?}")]
    InvalidKey(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Checks a key: 1..=1024 bytes of `[A-Za-z0-9/._-]`, no empty segment, no `.` or `..` segment.
pub fn check_key(key: &str) -> Result<(), BlobError> {
    let valid = !key.is_empty()
        && key.len() <= 1024
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
        && key.split('/').all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if valid { Ok(()) } else { Err(BlobError::InvalidKey(key.to_owned())) }
}

#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// A form a client can upload one file with, under the policy's conditions.
    async fn presign_upload(&self, policy: &UploadPolicy) -> Result<PresignedPost, BlobError>;

    /// A URL that downloads the blob until `expires_in` has passed.
    async fn presign_download(&self, key: &str, expires_in: Duration) -> Result<String, BlobError>;

    /// Stores a blob, replacing any blob under the key.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError>;

    /// The blob, or `None` when there is none under the key.
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError>;

    /// Removes the blob; removing a missing blob succeeds.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

#[cfg(test)]
mod tests {
    use super::check_key;

    #[test]
    fn keys_are_plain_relative_paths() {
        assert!(check_key("avatars/u1/original.png").is_ok());
        for bad in ["", "/abs", "a//b", "a/../b", "./a", "a b", "a\\b", "trailing/"] {
            assert!(check_key(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
