//! The blob store port, S3 semantics, and the upload forms that let clients write to it.
//!
//! Clients upload directly with a presigned POST (the API never proxies file bodies). The
//! policy signed into the form carries the conditions the store enforces at upload: the exact
//! key, the allowed content types, a content length range, and an expiry. Signing a form is a
//! port of its own, [`UploadForms`]: it is a computation over credentials, with no call to the
//! store, so what hands out forms need not link the store's client. Downloads go through
//! presigned GET URLs.
//!
//! What the system writes itself and cannot hold in memory (an export of every user) goes up
//! in parts, S3's multipart upload: [`BlobWriter`] buffers a part at a time and stores the
//! blob only when finished, so nobody ever reads half of it.

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
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if valid {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(key.to_owned()))
    }
}

/// Blobs under this prefix are public: served to anyone at the backend's public blob URL
/// (`PUBLIC_BLOB_URL`: a CDN in front of the bucket on AWS, the local server locally). Only
/// what the system wrote itself goes there (re-encoded avatars), never an upload.
pub const PUBLIC_PREFIX: &str = "avatars/";

/// Every part of an upload but the last holds at least this many bytes (S3's minimum).
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// An upload in parts, started and not yet finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadId(pub String);

/// One stored part, as [`BlobStore::finish_upload`] needs it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// From 1, in the order the parts make up the blob.
    pub number: u32,
    pub tag: String,
}

/// Signs the forms clients upload to the blob store with. The store checks the form at upload
/// (signature, expiry, conditions); signing it reads no blob and writes none.
#[async_trait]
pub trait UploadForms: Send + Sync + fmt::Debug {
    /// A form a client can upload one file with, under the policy's conditions.
    async fn presign_upload(&self, policy: &UploadPolicy) -> Result<PresignedPost, BlobError>;
}

#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// A URL that downloads the blob until `expires_in` has passed.
    async fn presign_download(&self, key: &str, expires_in: Duration) -> Result<String, BlobError>;

    /// Stores a blob, replacing any blob under the key.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError>;

    /// The blob, or `None` when there is none under the key.
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError>;

    /// Removes the blob; removing a missing blob succeeds.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;

    /// Starts a blob written in parts; nothing is under the key until it is finished.
    async fn start_upload(&self, key: &str, content_type: &str) -> Result<UploadId, BlobError>;

    /// Stores part `number` (from 1) of an upload. Every part but the last must hold at least
    /// [`MIN_PART_BYTES`].
    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        bytes: Vec<u8>,
    ) -> Result<Part, BlobError>;

    /// Makes the parts, in order, the blob under the key, replacing any blob there.
    async fn finish_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: Vec<Part>,
    ) -> Result<(), BlobError>;

    /// Drops an unfinished upload and its parts.
    async fn abort_upload(&self, key: &str, upload: &UploadId) -> Result<(), BlobError>;
}

/// Writes a blob of any size with at most one part in memory: bytes are buffered until a part
/// is full, then uploaded. A blob smaller than one part is stored with one [`BlobStore::put`]
/// and no upload in parts at all. Nothing is under the key until [`BlobWriter::finish`]; a
/// writer dropped unfinished leaves an upload for [`BlobWriter::abort`] (or the bucket's
/// lifecycle rule) to clear.
#[derive(Debug)]
pub struct BlobWriter<'a> {
    store: &'a dyn BlobStore,
    key: String,
    content_type: String,
    /// Started with the first full part.
    upload: Option<UploadId>,
    buffer: Vec<u8>,
    parts: Vec<Part>,
    written: u64,
}

impl<'a> BlobWriter<'a> {
    pub async fn start(
        store: &'a dyn BlobStore,
        key: &str,
        content_type: &str,
    ) -> Result<Self, BlobError> {
        check_key(key)?;
        Ok(Self {
            store,
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            upload: None,
            buffer: Vec::new(),
            parts: Vec::new(),
            written: 0,
        })
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        self.buffer.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
        if self.buffer.len() >= MIN_PART_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    /// How many bytes were written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Stores the blob: the last part and the upload's end, or one put when it fits a part.
    pub async fn finish(mut self) -> Result<u64, BlobError> {
        let Some(upload) = self.upload.clone() else {
            let bytes = std::mem::take(&mut self.buffer);
            self.store.put(&self.key, bytes, &self.content_type).await?;
            return Ok(self.written);
        };
        if !self.buffer.is_empty() {
            self.flush().await?;
        }
        let parts = std::mem::take(&mut self.parts);
        self.store.finish_upload(&self.key, &upload, parts).await?;
        Ok(self.written)
    }

    pub async fn abort(self) -> Result<(), BlobError> {
        match &self.upload {
            Some(upload) => self.store.abort_upload(&self.key, upload).await,
            None => Ok(()),
        }
    }

    async fn flush(&mut self) -> Result<(), BlobError> {
        let upload = match &self.upload {
            Some(upload) => upload.clone(),
            None => {
                let started = self
                    .store
                    .start_upload(&self.key, &self.content_type)
                    .await?;
                self.upload.insert(started).clone()
            }
        };
        let number = self.parts.len() as u32 + 1;
        let bytes = std::mem::replace(&mut self.buffer, Vec::with_capacity(MIN_PART_BYTES));
        let part = self
            .store
            .upload_part(&self.key, &upload, number, bytes)
            .await?;
        self.parts.push(part);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check_key;

    #[test]
    fn keys_are_plain_relative_paths() {
        assert!(check_key("avatars/u1/original.png").is_ok());
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/../b",
            "./a",
            "a b",
            "a\\b",
            "trailing/",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
