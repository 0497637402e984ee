//! The composition root: the one place that decides which adapter stands behind each port.
//!
//! A Lambda main builds an [`AwsBackend`] from its environment and asks it only for the ports its
//! handler uses, so a function never builds a client (or needs an IAM permission) it does not
//! use. The local system builds a [`LocalBackend`] over a data directory. Handlers see only
//! `Arc<dyn Port>`s and cannot tell the two apart.

use std::sync::Arc;

use anyhow::Context;
use shared::accounts::{Accounts, TokenIssuer};
use shared::auth::access_token::AccessTokens;
use shared::auth::key_cache::CachedKeySet;
use shared::blob::BlobStore;
use shared::clock::{Clock, OsRandom, SystemClock};
use shared::mail::Mailer;
use shared::queue::Queue;
use shared::secrets::Secrets;
use shared::store::ItemStore;

use crate::blob::local::LocalBlobs;
use crate::blob::s3::S3Blobs;
use crate::config::{AwsEnv, LocalConfig};
use crate::local_db::LocalDb;
use crate::mail::mailbox::Mailbox;
use crate::mail::ses::SesMailer;
use crate::queue::local::{DeadLetter, LocalQueue};
use crate::queue::sqs::SqsQueue;
use crate::secrets::local::LocalSecrets;
use crate::secrets::secrets_manager::SecretsManager;
use crate::store::dynamo::DynamoStore;
use crate::store::sqlite::LocalStore;

/// Where the ports lead.
#[derive(Debug)]
pub enum Backend {
    Aws(Box<AwsBackend>),
    Local(LocalBackend),
}

impl Backend {
    /// The AWS backend, configured from the environment. Makes no network call: clients connect
    /// on first use.
    pub async fn aws_from_env() -> anyhow::Result<Self> {
        Ok(Backend::Aws(Box::new(AwsBackend::from_env().await?)))
    }

    /// The local backend over `config.data_dir`, created on first use.
    pub async fn local(config: LocalConfig) -> anyhow::Result<Self> {
        Ok(Backend::Local(LocalBackend::open(config).await?))
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        match self {
            Backend::Aws(aws) => aws.clock.clone(),
            Backend::Local(local) => local.clock.clone(),
        }
    }

    pub fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        match self {
            Backend::Aws(aws) => aws.store(),
            Backend::Local(local) => Ok(local.local_store()),
        }
    }

    pub fn jobs_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        match self {
            Backend::Aws(aws) => aws.jobs_queue(),
            Backend::Local(local) => Ok(local.local_queue(JOBS_QUEUE)),
        }
    }

    pub fn events_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        match self {
            Backend::Aws(aws) => aws.events_queue(),
            Backend::Local(local) => Ok(local.local_queue(EVENTS_QUEUE)),
        }
    }

    pub fn blobs(&self) -> anyhow::Result<Arc<dyn BlobStore>> {
        match self {
            Backend::Aws(aws) => aws.blobs(),
            Backend::Local(local) => Ok(local.local_blobs()),
        }
    }

    pub fn mailer(&self) -> anyhow::Result<Arc<dyn Mailer>> {
        match self {
            Backend::Aws(aws) => aws.mailer(),
            Backend::Local(local) => Ok(local.mailbox()),
        }
    }

    pub fn secrets(&self) -> anyhow::Result<Arc<dyn Secrets>> {
        match self {
            Backend::Aws(aws) => Ok(aws.secrets()),
            Backend::Local(local) => Ok(local.secrets.clone()),
        }
    }

    /// How old a pending outbox event must be before the reconciliation publishes it.
    pub fn outbox_reconcile_after(&self) -> std::time::Duration {
        match self {
            Backend::Aws(aws) => aws.env.outbox_reconcile_after,
            Backend::Local(local) => local.config.outbox_reconcile_after,
        }
    }

    /// How long an address may stay unverified before the account is removed.
    pub fn unverified_account_ttl(&self) -> std::time::Duration {
        match self {
            Backend::Aws(aws) => aws.env.unverified_account_ttl,
            Backend::Local(local) => local.config.unverified_account_ttl,
        }
    }

    /// The name of the signing key set in [`Backend::secrets`].
    pub fn signing_keys_secret(&self) -> &str {
        match self {
            Backend::Aws(aws) => &aws.env.signing_keys_secret,
            Backend::Local(_) => shared::auth::keys::DEFAULT_SECRET_NAME,
        }
    }

    /// How access tokens are issued and checked: `TOKEN_ISSUER`/`TOKEN_AUDIENCE` on AWS, the
    /// local server's address as the issuer locally; 15 minutes either way.
    pub fn access_tokens(&self) -> anyhow::Result<AccessTokens> {
        let (issuer, audience) = match self {
            Backend::Aws(aws) => (aws.env.token_issuer.clone(), aws.env.token_audience.clone()),
            Backend::Local(local) => (
                local.config.base_url.clone(),
                crate::config::DEFAULT_TOKEN_AUDIENCE.to_owned(),
            ),
        };
        Ok(AccessTokens::new(issuer, audience, ACCESS_TOKEN_TTL)?)
    }

    /// The identity use cases over this backend's store, clock and randomness.
    pub fn accounts(&self) -> anyhow::Result<Accounts> {
        Ok(Accounts::new(
            self.store()?,
            self.clock(),
            Arc::new(OsRandom),
        ))
    }

    /// What issues access tokens: their settings and the cached signing keys.
    pub fn token_issuer(&self) -> anyhow::Result<TokenIssuer> {
        Ok(TokenIssuer {
            tokens: self.access_tokens()?,
            keys: self.signing_keys()?,
        })
    }

    /// The signing key set, read through [`Backend::secrets`] and cached.
    pub fn signing_keys(&self) -> anyhow::Result<CachedKeySet> {
        Ok(CachedKeySet::new(
            self.secrets()?,
            self.signing_keys_secret(),
        ))
    }

    /// The front end's base URL, for the links in mails: `APP_URL` on AWS, the local server's
    /// address (or the configured one) locally.
    pub fn app_url(&self) -> anyhow::Result<String> {
        match self {
            Backend::Aws(aws) => AwsEnv::required("APP_URL", &aws.env.app_url),
            Backend::Local(local) => Ok(local.config.base_url.clone()),
        }
    }
}

/// The lifetime of an access token.
pub const ACCESS_TOKEN_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// The local name of the job queue; its dead-letter queue is `jobs-dlq`.
pub const JOBS_QUEUE: &str = "jobs";

/// The local name of the events queue; its dead-letter queue is `events-dlq`.
pub const EVENTS_QUEUE: &str = "events";

/// Ports on AWS. Each accessor builds a client from the shared SDK configuration; building one
/// is cheap and makes no network call.
#[derive(Debug)]
pub struct AwsBackend {
    sdk: aws_config::SdkConfig,
    env: AwsEnv,
    clock: Arc<dyn Clock>,
}

impl AwsBackend {
    pub async fn from_env() -> anyhow::Result<Self> {
        let env = AwsEnv::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Self::new(sdk, env))
    }

    /// The backend over an explicit SDK configuration (tests point it at an emulator).
    pub fn new(sdk: aws_config::SdkConfig, env: AwsEnv) -> Self {
        Self {
            sdk,
            env,
            clock: Arc::new(SystemClock),
        }
    }

    pub fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        let table = AwsEnv::required("TABLE_NAME", &self.env.table_name)?;
        let client = aws_sdk_dynamodb::Client::new(&self.sdk);
        Ok(Arc::new(DynamoStore::new(
            client,
            table,
            self.clock.clone(),
        )))
    }

    pub fn jobs_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        let url = AwsEnv::required("JOBS_QUEUE_URL", &self.env.jobs_queue_url)?;
        Ok(Arc::new(SqsQueue::new(
            aws_sdk_sqs::Client::new(&self.sdk),
            url,
        )))
    }

    pub fn events_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        let url = AwsEnv::required("EVENTS_QUEUE_URL", &self.env.events_queue_url)?;
        Ok(Arc::new(SqsQueue::new(
            aws_sdk_sqs::Client::new(&self.sdk),
            url,
        )))
    }

    pub fn blobs(&self) -> anyhow::Result<Arc<dyn BlobStore>> {
        let bucket = AwsEnv::required("BLOB_BUCKET", &self.env.blob_bucket)?;
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.env.s3_force_path_style)
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        Ok(Arc::new(S3Blobs::new(
            client,
            &self.sdk,
            bucket,
            self.clock.clone(),
        )))
    }

    pub fn mailer(&self) -> anyhow::Result<Arc<dyn Mailer>> {
        let from = AwsEnv::required("MAIL_FROM", &self.env.mail_from)?;
        Ok(Arc::new(SesMailer::new(
            aws_sdk_ses::Client::new(&self.sdk),
            from,
        )))
    }

    pub fn secrets(&self) -> Arc<dyn Secrets> {
        let client = aws_sdk_secretsmanager::Client::new(&self.sdk);
        Arc::new(SecretsManager::new(
            client,
            self.env.secrets_cache_ttl,
            self.clock.clone(),
        ))
    }
}

/// Ports on one machine, under one data directory:
///
/// ```text
/// <data_dir>/data.sqlite   the item store, its change feed, and the queues
/// <data_dir>/blobs/        the blob store
/// <data_dir>/mailbox/      every mail sent
/// <data_dir>/secrets/      secrets, owner-only
/// ```
#[derive(Debug)]
pub struct LocalBackend {
    config: LocalConfig,
    db: LocalDb,
    clock: Arc<dyn Clock>,
    store: Arc<LocalStore>,
    secrets: Arc<LocalSecrets>,
    mailbox: Arc<Mailbox>,
    blobs: Arc<LocalBlobs>,
}

/// The secret the local blob store signs its URLs with.
const BLOB_SIGNING_SECRET: &str = "local-blob-signing-key";

impl LocalBackend {
    pub async fn open(config: LocalConfig) -> anyhow::Result<Self> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let db = LocalDb::open(&dir.join("data.sqlite"))?;
        let secrets = Arc::new(LocalSecrets::new(dir.join("secrets")));
        let blob_key = blob_signing_key(secrets.as_ref()).await?;
        Ok(Self {
            store: Arc::new(LocalStore::new(db.clone(), clock.clone())),
            mailbox: Arc::new(Mailbox::new(dir.join("mailbox"), clock.clone())),
            blobs: Arc::new(LocalBlobs::new(
                dir.join("blobs"),
                config.base_url.clone(),
                blob_key,
                clock.clone(),
            )),
            secrets,
            db,
            clock,
            config,
        })
    }

    pub fn config(&self) -> &LocalConfig {
        &self.config
    }

    pub fn local_store(&self) -> Arc<LocalStore> {
        self.store.clone()
    }

    /// A handle on a local queue. `jobs` and `events` dead-letter into `jobs-dlq` and
    /// `events-dlq` after the configured number of receives, as their redrive policies do on AWS.
    pub fn local_queue(&self, name: &str) -> Arc<LocalQueue> {
        let dead_letter = [JOBS_QUEUE, EVENTS_QUEUE]
            .contains(&name)
            .then(|| DeadLetter {
                queue: format!("{name}-dlq"),
                max_receives: self.config.max_receives,
            });
        Arc::new(LocalQueue::new(
            self.db.clone(),
            name,
            self.clock.clone(),
            dead_letter,
        ))
    }

    pub fn mailbox(&self) -> Arc<Mailbox> {
        self.mailbox.clone()
    }

    pub fn local_blobs(&self) -> Arc<LocalBlobs> {
        self.blobs.clone()
    }
}

/// The local blob signing key: generated once, kept with the other local secrets.
async fn blob_signing_key(secrets: &dyn Secrets) -> anyhow::Result<[u8; 32]> {
    let generated = hex::encode(shared::clock::Random::bytes::<32>(&OsRandom));
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
