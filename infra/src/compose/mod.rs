//! The composition root: the one place that decides which adapter stands behind each port.
//!
//! A [`Backend`] hands out the ports of one process, each built once on first use and shared by
//! everything that asks for it afterwards. [`AwsBackend`] (feature `aws`) builds one SDK
//! configuration and at most one client per service; [`LocalBackend`] (feature `local`) opens
//! one data directory. Both take the clock and the source of randomness every port and use case
//! reads, so tests build the real system on a manual clock.
//!
//! Handlers never see a backend: the wiring in `functions` asks it for the ports a handler takes,
//! so a Lambda function builds no client (and needs no IAM permission) its handler does not use.

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "local")]
mod local;

use std::fmt;
use std::sync::Arc;

use shared::accounts::{Accounts, TokenIssuer};
use shared::auth::access_token::AccessTokens;
use shared::auth::key_cache::CachedKeySet;
use shared::blob::{BlobStore, UploadForms};
use shared::clock::{Clock, Random};
use shared::mail::Mailer;
use shared::queue::Queue;
use shared::secrets::Secrets;
use shared::store::ItemStore;

#[cfg(feature = "aws")]
pub use aws::{AwsBackend, Services};
#[cfg(feature = "local")]
pub use local::LocalBackend;

use crate::config::Settings;

/// The name the job queue goes by locally and in the wiring (`JobsQueue` in the template).
pub const JOBS_QUEUE: &str = "jobs";

/// The name the events queue goes by locally and in the wiring (`EventsQueue` in the template).
pub const EVENTS_QUEUE: &str = "events";

/// The name the queue of upload notifications goes by locally and in the wiring
/// (`UploadsQueue` in the template, where S3 sends its ObjectCreated events).
pub const UPLOADS_QUEUE: &str = "uploads";

/// The lifetime of an access token.
pub const ACCESS_TOKEN_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// Where the ports lead. Each accessor fails only when the port's configuration is missing
/// (a function whose handler needs a queue but was deployed without its URL, say).
pub trait Backend: Send + Sync + fmt::Debug {
    fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>>;
    fn jobs_queue(&self) -> anyhow::Result<Arc<dyn Queue>>;
    fn events_queue(&self) -> anyhow::Result<Arc<dyn Queue>>;
    /// Where the job queue moves a message after its last receive (`JobsDeadLetterQueue`).
    fn jobs_dlq(&self) -> anyhow::Result<Arc<dyn Queue>>;
    /// Where the events queue moves a message after its last receive (`EventsDeadLetterQueue`).
    fn events_dlq(&self) -> anyhow::Result<Arc<dyn Queue>>;
    fn blobs(&self) -> anyhow::Result<Arc<dyn BlobStore>>;
    /// What signs the forms clients upload into the blob store with.
    fn upload_forms(&self) -> anyhow::Result<Arc<dyn UploadForms>>;
    fn mailer(&self) -> anyhow::Result<Arc<dyn Mailer>>;
    fn secrets(&self) -> anyhow::Result<Arc<dyn Secrets>>;
    fn clock(&self) -> Arc<dyn Clock>;
    fn random(&self) -> Arc<dyn Random>;
    fn settings(&self) -> &Settings;

    /// How access tokens are issued and checked; 15 minutes on either backend.
    fn access_tokens(&self) -> anyhow::Result<AccessTokens> {
        let settings = self.settings();
        Ok(AccessTokens::new(
            settings.token_issuer.clone(),
            settings.token_audience.clone(),
            ACCESS_TOKEN_TTL,
        )?)
    }

    /// The signing key set, read through [`Backend::secrets`] and cached: for what signs.
    fn signing_keys(&self) -> anyhow::Result<CachedKeySet> {
        Ok(CachedKeySet::new(
            self.secrets()?,
            self.settings().signing_keys_secret.clone(),
        ))
    }

    /// The public half of the key set, cached: for what verifies, which holds no seed.
    fn public_keys(&self) -> anyhow::Result<CachedKeySet> {
        Ok(CachedKeySet::new(
            self.secrets()?,
            self.settings().public_keys_secret.clone(),
        ))
    }

    /// The identity use cases over this backend's store, clock and randomness.
    fn accounts(&self) -> anyhow::Result<Accounts> {
        Ok(Accounts::new(self.store()?, self.clock(), self.random()))
    }

    /// What issues access tokens: their settings and the cached signing keys.
    fn token_issuer(&self) -> anyhow::Result<TokenIssuer> {
        Ok(TokenIssuer {
            tokens: self.access_tokens()?,
            keys: self.signing_keys()?,
        })
    }
}

/// A backend whose item store is another: `inner` with `store` in place of its own. How a
/// function's use cases get a decorated store (idempotency records, recording in tests).
#[derive(Debug)]
pub struct WithStore<'a> {
    inner: &'a dyn Backend,
    store: Arc<dyn ItemStore>,
}

impl<'a> WithStore<'a> {
    pub fn new(inner: &'a dyn Backend, store: Arc<dyn ItemStore>) -> Self {
        Self { inner, store }
    }
}

impl Backend for WithStore<'_> {
    fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        Ok(self.store.clone())
    }
    fn jobs_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.inner.jobs_queue()
    }
    fn events_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.inner.events_queue()
    }
    fn jobs_dlq(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.inner.jobs_dlq()
    }
    fn events_dlq(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.inner.events_dlq()
    }
    fn blobs(&self) -> anyhow::Result<Arc<dyn BlobStore>> {
        self.inner.blobs()
    }
    fn upload_forms(&self) -> anyhow::Result<Arc<dyn UploadForms>> {
        self.inner.upload_forms()
    }
    fn mailer(&self) -> anyhow::Result<Arc<dyn Mailer>> {
        self.inner.mailer()
    }
    fn secrets(&self) -> anyhow::Result<Arc<dyn Secrets>> {
        self.inner.secrets()
    }
    fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock()
    }
    fn random(&self) -> Arc<dyn Random> {
        self.inner.random()
    }
    fn settings(&self) -> &Settings {
        self.inner.settings()
    }
}

/// Creates the signing key set of `backend` unless one exists, and publishes its public half
/// (what the local system does at start, and the operator's `init-keys`).
pub async fn ensure_keys(backend: &dyn Backend) -> anyhow::Result<shared::auth::keys::KeySet> {
    let settings = backend.settings();
    Ok(shared::auth::keys::KeySet::ensure(
        backend.secrets()?.as_ref(),
        &settings.signing_keys_secret,
        &settings.public_keys_secret,
        backend.clock().now(),
        &shared::clock::OsRandom,
    )
    .await?)
}
