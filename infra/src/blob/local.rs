//! The local blob store: files in a directory, reached through HMAC-signed forms and URLs that
//! the local server checks as S3 checks its own. The store signs its upload forms itself
//! ([`shared::blob::UploadForms`], in `form`), with the key it checks them with.
//!
//! Each blob is one file named after a hash of its key (so `a` and `a/b` can coexist, as on S3),
//! holding its content type on the first line and then its bytes. Files are replaced atomically.
//! An upload in parts keeps its parts under `.uploads/<upload id>/` until it is finished, then
//! copies them, a part at a time, into the blob's file.

mod form;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use shared::blob::PUBLIC_PREFIX;
use shared::blob::{Blob, BlobError, BlobStore, Part, UploadId, check_key};
use shared::clock::Clock;
use shared::queue::Queue;

pub use form::{SIGNATURE_FIELD, UploadRejected};

/// Where the local server accepts uploads and serves downloads.
pub const ROUTE: &str = "/_local/blobs";

/// The directory, inside the blob directory, of announcements of uploads not yet sent.
const PENDING: &str = ".notify";

/// Where the local server serves the public blobs ([`shared::blob::PUBLIC_PREFIX`]) to anyone.
pub const PUBLIC_ROUTE: &str = "/_local/public";

/// Why a download URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum DownloadRejected {
    #[error("the download URL expired")]
    Expired,
    #[error("the download URL's signature does not match")]
    BadSignature,
    #[error("there is no blob under this key")]
    NotFound,
    #[error("invalid blob key")]
    InvalidKey,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Clone)]
pub struct LocalBlobs {
    dir: PathBuf,
    base_url: String,
    signing_key: [u8; 32],
    clock: Arc<dyn Clock>,
    /// Where an accepted upload is announced, as S3 announces ObjectCreated to a queue.
    notifications: Option<Arc<dyn Queue>>,
}

impl fmt::Debug for LocalBlobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBlobs")
            .field("dir", &self.dir)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl LocalBlobs {
    /// `base_url` is where the local server is reachable, without a trailing slash.
    pub fn new(
        dir: PathBuf,
        base_url: String,
        signing_key: [u8; 32],
        clock: Arc<dyn Clock>,
    ) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        Self {
            dir,
            base_url,
            signing_key,
            clock,
            notifications: None,
        }
    }

    /// Announces every accepted upload on `queue` with the S3 ObjectCreated event AWS would
    /// send, so the same handler consumes it on both backends.
    pub fn notifying(mut self, queue: Arc<dyn Queue>) -> Self {
        self.notifications = Some(queue);
        self
    }

    /// A public blob ([`PUBLIC_PREFIX`]): anyone may read it, no signature needed.
    pub async fn public(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        if !key.starts_with(PUBLIC_PREFIX) {
            return Ok(None);
        }
        self.get(key).await
    }

    /// Verifies a presigned-POST form (signature, expiry, exact key, exact content type, size
    /// within the policy's range) and stores the file; returns its key.
    pub async fn accept_upload(
        &self,
        fields: &BTreeMap<String, String>,
        file: Vec<u8>,
    ) -> Result<String, UploadRejected> {
        let signed = |policy: &str, signature: &str| self.verify(policy.as_bytes(), signature);
        let upload = form::verify(fields, file.len(), self.clock.now(), signed)?;
        let event = object_created(&upload.key, file.len(), self.clock.now()).to_string();
        // S3 announces every object it stores. The announcement is written down before the
        // blob, and crossed out once the queue has it, so a process killed between storing
        // and sending sends it when it starts again (`announce_pending`).
        let pending = self.pending_path(&upload.key);
        if self.notifications.is_some() {
            let (dir, path, contents) = (self.pending_dir(), pending.clone(), event.clone());
            blocking(move || write_atomically(&dir, &path, contents.as_bytes()))
                .await
                .map_err(UploadRejected::Unexpected)?;
        }
        self.store(&upload.key, file, &upload.content_type)
            .await
            .map_err(|e| match e {
                BlobError::InvalidKey(_) => UploadRejected::InvalidKey,
                BlobError::Unexpected(e) => UploadRejected::Unexpected(e),
            })?;
        tracing::debug!(key = %upload.key, "blob uploaded");
        if let Some(queue) = &self.notifications {
            queue
                .send(&event, Duration::ZERO)
                .await
                .map_err(|e| UploadRejected::Unexpected(e.into()))?;
            blocking(move || remove_if_there(&pending))
                .await
                .map_err(UploadRejected::Unexpected)?;
        }
        Ok(upload.key)
    }

    /// Sends the announcements of uploads stored by a process that died before sending them,
    /// and drops those of uploads it never stored; returns how many it sent. Run at start,
    /// before uploads are accepted. An announcement sent just before the death is sent
    /// again: S3's notifications are at least once too.
    pub async fn announce_pending(&self) -> anyhow::Result<usize> {
        let Some(queue) = &self.notifications else {
            return Ok(0);
        };
        let dir = self.pending_dir();
        let pending = blocking(move || read_pending(&dir)).await?;
        let mut sent = 0;
        for (path, event) in pending {
            let key = serde_json::from_str::<serde_json::Value>(&event)
                .ok()
                .and_then(|v| {
                    v["Records"][0]["s3"]["object"]["key"]
                        .as_str()
                        .map(str::to_owned)
                });
            let stored = match &key {
                Some(key) => self.get(key).await?.is_some(),
                None => false,
            };
            if stored {
                queue
                    .send(&event, Duration::ZERO)
                    .await
                    .context("announcing a stored upload")?;
                sent += 1;
            }
            blocking(move || remove_if_there(&path)).await?;
        }
        if sent > 0 {
            tracing::warn!(sent, "announced uploads stored before a crash");
        }
        Ok(sent)
    }

    fn pending_dir(&self) -> PathBuf {
        self.dir.join(PENDING)
    }

    fn pending_path(&self, key: &str) -> PathBuf {
        self.pending_dir()
            .join(hex::encode(Sha256::digest(key.as_bytes())))
    }

    /// Verifies a download URL's expiry and signature and returns the blob.
    pub async fn download(
        &self,
        key: &str,
        expires: i64,
        signature: &str,
    ) -> Result<Blob, DownloadRejected> {
        check_key(key).map_err(|_| DownloadRejected::InvalidKey)?;
        if expires <= self.clock.now().timestamp() {
            return Err(DownloadRejected::Expired);
        }
        if !self.verify(download_message(key, expires).as_bytes(), signature) {
            return Err(DownloadRejected::BadSignature);
        }
        match self.get(key).await {
            Ok(Some(blob)) => Ok(blob),
            Ok(None) => Err(DownloadRejected::NotFound),
            Err(BlobError::InvalidKey(_)) => Err(DownloadRejected::InvalidKey),
            Err(BlobError::Unexpected(e)) => Err(DownloadRejected::Unexpected(e)),
        }
    }

    fn mac(&self, message: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length; only fixed-size MACs can refuse one.
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.signing_key).expect("HMAC accepts any key length");
        mac.update(message);
        mac
    }

    fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.mac(message).finalize().into_bytes())
    }

    /// Checks a hex `signature` over `message`, in constant time.
    fn verify(&self, message: &[u8], signature: &str) -> bool {
        hex::decode(signature).is_ok_and(|tag| self.mac(message).verify_slice(&tag).is_ok())
    }

    fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(hex::encode(Sha256::digest(key.as_bytes())))
    }

    async fn store(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        check_key(key)?;
        check_content_type(content_type)?;
        let (dir, path) = (self.dir.clone(), self.path_of(key));
        let mut contents = Vec::with_capacity(content_type.len() + 1 + bytes.len());
        contents.extend_from_slice(content_type.as_bytes());
        contents.push(b'\n');
        contents.extend_from_slice(&bytes);
        blocking(move || write_atomically(&dir, &path, &contents)).await?;
        Ok(())
    }
}

/// The notification S3 sends for an object created by a form upload (event version 2.1),
/// with the bucket named `local`.
pub fn object_created(key: &str, size: usize, at: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "local",
            "eventTime": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "eventName": "ObjectCreated:Post",
            "userIdentity": {"principalId": "local"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "uploads",
                "bucket": {
                    "name": "local",
                    "ownerIdentity": {"principalId": "local"},
                    "arn": "arn:aws:s3:::local"
                },
                "object": {
                    // Keys are `[A-Za-z0-9/._-]`: their URL encoding is themselves.
                    "key": key,
                    "size": size,
                    "sequencer": format!("{:016X}", at.timestamp_micros()),
                }
            }
        }]
    })
}

/// What a download URL signs: the key and the expiry, under a prefix no form policy (base64)
/// can start with.
fn download_message(key: &str, expires: i64) -> String {
    format!("GET\n{key}\n{expires}")
}

fn check_content_type(content_type: &str) -> Result<(), BlobError> {
    let valid = !content_type.is_empty()
        && content_type.len() <= 255
        && content_type
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ');
    if valid {
        Ok(())
    } else {
        Err(anyhow!("invalid content type {content_type:?}").into())
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .context("a blob task did not finish")?
}

/// The announcements waiting in `dir`: each file's path and event.
fn read_pending(dir: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("listing {}", dir.display()))),
    };
    let mut pending = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        // A temporary file is an announcement that was never written whole.
        if path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'))
        {
            remove_if_there(&path)?;
            continue;
        }
        let event = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        pending.push((path, event));
    }
    Ok(pending)
}

fn remove_if_there(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(anyhow::Error::new(e).context(format!("removing {}", path.display())))
        }
        _ => Ok(()),
    }
}

fn write_atomically(dir: &Path, path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    crate::private::dir(dir)?;
    let temp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let written = crate::private::create_new(&temp)
        .and_then(|mut file| {
            file.write_all(contents)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(anyhow::Error::new(e).context(format!("writing {}", path.display())));
    }
    // The rename is durable once the directory entry is.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

fn expiry(now: DateTime<Utc>, expires_in: Duration) -> Result<DateTime<Utc>, BlobError> {
    let at = TimeDelta::from_std(expires_in)
        .ok()
        .and_then(|d| now.checked_add_signed(d));
    let at = at.and_then(|at| DateTime::from_timestamp(at.timestamp(), 0));
    at.ok_or_else(|| {
        anyhow!(
            "an expiry {}s from now is out of range",
            expires_in.as_secs()
        )
        .into()
    })
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn presign_download(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        check_key(key)?;
        let expires = expiry(self.clock.now(), expires_in)?.timestamp();
        let signature = self.sign(download_message(key, expires).as_bytes());
        Ok(format!(
            "{}{ROUTE}/{key}?expires={expires}&signature={signature}",
            self.base_url
        ))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        self.store(key, bytes, content_type).await
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        check_key(key)?;
        let path = self.path_of(key);
        let contents = blocking(move || match std::fs::read(&path) {
            Ok(contents) => Ok(Some(contents)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
        })
        .await?;
        let Some(mut bytes) = contents else {
            return Ok(None);
        };
        let split = bytes
            .iter()
            .position(|&b| b == b'\n')
            .context("a blob file without its content type")?;
        let content_type = String::from_utf8(bytes[..split].to_vec())
            .context("a blob's content type is not UTF-8")?;
        bytes.drain(..=split);
        Ok(Some(Blob {
            bytes,
            content_type,
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        let path = self.path_of(key);
        blocking(move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                Err(anyhow::Error::new(e).context(format!("removing {}", path.display())))
            }
            _ => Ok(()),
        })
        .await?;
        Ok(())
    }

    async fn start_upload(&self, key: &str, content_type: &str) -> Result<UploadId, BlobError> {
        check_key(key)?;
        check_content_type(content_type)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let staging = self.staging(&id);
        let meta = format!("{key}\n{content_type}");
        blocking(move || {
            crate::private::dir(&staging)?;
            crate::private::create_new(&staging.join("meta"))
                .and_then(|mut file| file.write_all(meta.as_bytes()))
                .context("writing an upload's metadata")
        })
        .await?;
        Ok(UploadId(id))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        bytes: Vec<u8>,
    ) -> Result<Part, BlobError> {
        let (staging, _) = self.upload_of(key, upload).await?;
        let tag = hex::encode(Sha256::digest(&bytes));
        blocking(move || write_atomically(&staging, &staging.join(number.to_string()), &bytes))
            .await?;
        Ok(Part { number, tag })
    }

    async fn finish_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: Vec<Part>,
    ) -> Result<(), BlobError> {
        let (staging, content_type) = self.upload_of(key, upload).await?;
        let (dir, path) = (self.dir.clone(), self.path_of(key));
        blocking(move || {
            let temp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
            let mut file = crate::private::create_new(&temp)
                .with_context(|| format!("creating {}", temp.display()))?;
            file.write_all(content_type.as_bytes())?;
            file.write_all(b"\n")?;
            for part in &parts {
                let bytes = std::fs::read(staging.join(part.number.to_string()))
                    .with_context(|| format!("reading part {}", part.number))?;
                if hex::encode(Sha256::digest(&bytes)) != part.tag {
                    let _ = std::fs::remove_file(&temp);
                    anyhow::bail!("part {} is not the part uploaded", part.number);
                }
                file.write_all(&bytes)?;
            }
            file.sync_all()?;
            std::fs::rename(&temp, &path).with_context(|| format!("writing {}", path.display()))?;
            std::fs::remove_dir_all(&staging)
                .with_context(|| format!("removing {}", staging.display()))
        })
        .await?;
        Ok(())
    }

    async fn abort_upload(&self, key: &str, upload: &UploadId) -> Result<(), BlobError> {
        let (staging, _) = self.upload_of(key, upload).await?;
        blocking(move || {
            std::fs::remove_dir_all(&staging)
                .with_context(|| format!("removing {}", staging.display()))
        })
        .await?;
        Ok(())
    }
}

impl LocalBlobs {
    fn staging(&self, id: &str) -> PathBuf {
        self.dir.join(".uploads").join(id)
    }

    /// The staging directory and content type of an unfinished upload of `key`.
    async fn upload_of(
        &self,
        key: &str,
        upload: &UploadId,
    ) -> Result<(PathBuf, String), BlobError> {
        check_key(key)?;
        if upload.0.is_empty() || !upload.0.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(anyhow!("no upload {:?}", upload.0).into());
        }
        let staging = self.staging(&upload.0);
        let meta = staging.join("meta");
        let stored = blocking(move || {
            std::fs::read_to_string(&meta)
                .with_context(|| format!("no upload at {}", meta.display()))
        })
        .await?;
        match stored.split_once('\n') {
            Some((of, content_type)) if of == key => Ok((staging, content_type.to_owned())),
            _ => Err(anyhow!("upload {:?} is not of {key:?}", upload.0).into()),
        }
    }
}
