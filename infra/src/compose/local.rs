//! The ports on one machine, under one data directory:
//!
//! ```text
//! <data_dir>/data.sqlite   the item store, its change feed, and the queues
//! <data_dir>/blobs/        the blob store
//! <data_dir>/mailbox/      every mail sent
//! <data_dir>/secrets/      secrets, owner-only
//! ```

use std::sync::Arc;

use anyhow::Context;
use shared::blob::{BlobStore, UploadForms};
use shared::clock::{Clock, OsRandom, Random, SystemClock};
use shared::mail::Mailer;
use shared::queue::Queue;
use shared::secrets::Secrets;
use shared::store::ItemStore;

use super::{Backend, EVENTS_QUEUE, JOBS_QUEUE, UPLOADS_QUEUE};
use crate::blob::local::{LocalBlobs, PUBLIC_ROUTE};
use crate::config::{LocalConfig, Settings};
use crate::local_db::LocalDb;
use crate::mail::mailbox::Mailbox;
use crate::queue::local::{DeadLetter, LocalQueue};
use crate::secrets::local::LocalSecrets;
use crate::store::sqlite::LocalStore;

/// The secret the local blob store signs its URLs with.
const BLOB_SIGNING_SECRET: &str = "local-blob-signing-key";

#[derive(Debug)]
pub struct LocalBackend {
    config: LocalConfig,
    db: LocalDb,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    store: Arc<LocalStore>,
    jobs: Arc<LocalQueue>,
    events: Arc<LocalQueue>,
    jobs_dlq: Arc<LocalQueue>,
    events_dlq: Arc<LocalQueue>,
    secrets: Arc<LocalSecrets>,
    mailbox: Arc<Mailbox>,
    blobs: Arc<LocalBlobs>,
}

impl LocalBackend {
    /// Opens (creating on first use) the data directory of `config`.
    pub async fn open(
        mut config: LocalConfig,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> anyhow::Result<Self> {
        if config.settings.public_blob_url.is_none() {
            let base = config.base_url.trim_end_matches('/');
            config.settings.public_blob_url = Some(format!("{base}{PUBLIC_ROUTE}"));
        }
        let dir = &config.data_dir;
        crate::private::dir(dir)
            .with_context(|| format!("preparing the data directory {}", dir.display()))?;
        let db = LocalDb::open(&dir.join("data.sqlite"))?;
        let secrets = Arc::new(LocalSecrets::new(dir.join("secrets")));
        let blob_key = blob_signing_key(secrets.as_ref()).await?;
        let queue = |name: &str| {
            Arc::new(LocalQueue::new(
                db.clone(),
                name,
                clock.clone(),
                Some(DeadLetter {
                    queue: dead_letter_queue(name),
                    max_receives: config.max_receives,
                }),
            ))
        };
        let plain_queue =
            |name: &str| Arc::new(LocalQueue::new(db.clone(), name, clock.clone(), None));
        Ok(Self {
            store: Arc::new(LocalStore::new(db.clone(), clock.clone())),
            jobs: queue(JOBS_QUEUE),
            events: queue(EVENTS_QUEUE),
            jobs_dlq: plain_queue(&dead_letter_queue(JOBS_QUEUE)),
            events_dlq: plain_queue(&dead_letter_queue(EVENTS_QUEUE)),
            mailbox: Arc::new(Mailbox::new(dir.join("mailbox"), clock.clone())),
            blobs: Arc::new(
                LocalBlobs::new(
                    dir.join("blobs"),
                    config.base_url.clone(),
                    blob_key,
                    clock.clone(),
                )
                .notifying(plain_queue(UPLOADS_QUEUE)),
            ),
            secrets,
            db,
            clock,
            random,
            config,
        })
    }

    /// [`LocalBackend::open`] on the system clock and the operating system's randomness.
    pub async fn open_default(config: LocalConfig) -> anyhow::Result<Self> {
        Self::open(config, Arc::new(SystemClock), Arc::new(OsRandom)).await
    }

    pub fn config(&self) -> &LocalConfig {
        &self.config
    }

    /// The store itself, with the change feed the local runtime reads.
    pub fn local_store(&self) -> Arc<LocalStore> {
        self.store.clone()
    }

    /// The queue named `name`: `jobs` and `events` are the system's, which dead-letter into
    /// `jobs-dlq` and `events-dlq` after the configured receives as their redrive policies do
    /// on AWS; any other name is a plain queue of the same database.
    pub fn local_queue(&self, name: &str) -> Arc<LocalQueue> {
        match name {
            JOBS_QUEUE => self.jobs.clone(),
            EVENTS_QUEUE => self.events.clone(),
            other => Arc::new(LocalQueue::new(
                self.db.clone(),
                other,
                self.clock.clone(),
                None,
            )),
        }
    }

    pub fn mailbox(&self) -> Arc<Mailbox> {
        self.mailbox.clone()
    }

    pub fn local_blobs(&self) -> Arc<LocalBlobs> {
        self.blobs.clone()
    }
}

impl Backend for LocalBackend {
    fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        Ok(self.store.clone())
    }

    fn jobs_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        Ok(self.jobs.clone())
    }

    fn events_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        Ok(self.events.clone())
    }

    fn jobs_dlq(&self) -> anyhow::Result<Arc<dyn Queue>> {
        Ok(self.jobs_dlq.clone())
    }

    fn events_dlq(&self) -> anyhow::Result<Arc<dyn Queue>> {
        Ok(self.events_dlq.clone())
    }

    fn blobs(&self) -> anyhow::Result<Arc<dyn BlobStore>> {
        Ok(self.blobs.clone())
    }

    /// The blob store signs its own forms, with the key it checks them with at upload.
    fn upload_forms(&self) -> anyhow::Result<Arc<dyn UploadForms>> {
        Ok(self.blobs.clone())
    }

    fn mailer(&self) -> anyhow::Result<Arc<dyn Mailer>> {
        Ok(self.mailbox.clone())
    }

    fn secrets(&self) -> anyhow::Result<Arc<dyn Secrets>> {
        Ok(self.secrets.clone())
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    fn random(&self) -> Arc<dyn Random> {
        self.random.clone()
    }

    fn settings(&self) -> &Settings {
        &self.config.settings
    }
}

/// The dead-letter queue of the queue named `name`, in the same database (`jobs-dlq`).
fn dead_letter_queue(name: &str) -> String {
    format!("{name}-dlq")
}

/// The local blob signing key: generated once, kept with the other local secrets.
async fn blob_signing_key(secrets: &dyn Secrets) -> anyhow::Result<[u8; 32]> {
    let generated = hex::encode(OsRandom.bytes::<32>());
    secrets.create(BLOB_SIGNING_SECRET, &generated).await?;
    let stored = secrets
        .get(BLOB_SIGNING_SECRET)
        .await?
        .context("the local blob signing key is missing")?;
    let bytes = hex::decode(stored.trim()).context("the local blob signing key is not hex")?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("the local blob signing key is not 32 bytes"))
}

#[cfg(test)]
mod tests {
    use std::fs::Permissions;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use shared::mail::Mail;
    use shared::store::{Item, Key};

    use super::*;

    /// Every directory and file under `dir` with a permission bit for group or others.
    fn shared_with_others(dir: &Path, found: &mut Vec<String>) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let metadata = std::fs::symlink_metadata(&path)?;
            if metadata.permissions().mode() & 0o077 != 0 {
                found.push(format!(
                    "{} {:o}",
                    path.display(),
                    metadata.permissions().mode() & 0o777
                ));
            }
            if metadata.is_dir() {
                shared_with_others(&path, found)?;
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn the_data_directory_and_everything_in_it_are_the_owners_alone() -> anyhow::Result<()> {
        let root = tempfile::tempdir()?;
        let dir = root.path().join("data");
        std::fs::create_dir(&dir)?;
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755))?;
        let backend =
            LocalBackend::open_default(LocalConfig::new(&dir, "http://127.0.0.1:1")).await?;
        backend
            .store()?
            .put(Item::new(Key::new("a", "b"), Default::default()), None)
            .await?;
        backend
            .mailer()?
            .send(&Mail {
                to: "someone@example.com".into(),
                subject: "a link".into(),
                text: "https://example.com/reset-password?token=secret".into(),
                html: String::new(),
            })
            .await?;
        backend
            .blobs()?
            .put("uploads/avatars/x/y", b"image".to_vec(), "image/png")
            .await?;
        backend.secrets()?.put("a-secret", "value").await?;

        assert_eq!(std::fs::metadata(&dir)?.permissions().mode() & 0o777, 0o700);
        let mut found = Vec::new();
        shared_with_others(&dir, &mut found)?;
        assert!(found.is_empty(), "readable by others: {found:?}");
        Ok(())
    }
}
