//! Configuration, read from the environment once at start.
//!
//! [`Settings`] are what the use cases and handlers need on either backend; [`AwsEnv`] adds
//! where the AWS resources are, [`LocalConfig`] where the local data lives.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

/// How old a pending outbox event must be, by default, before the reconciliation publishes it:
/// well past the relay's usual delay of a second or two, so the two rarely both publish.
pub const OUTBOX_RECONCILE_AFTER: Duration = Duration::from_secs(5 * 60);

/// Unverified accounts are removed after this long unless configured.
pub const UNVERIFIED_ACCOUNT_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The `aud` of access tokens unless configured: this API.
pub const DEFAULT_TOKEN_AUDIENCE: &str = "accounts-api";

/// The `iss` of access tokens on AWS unless configured.
pub const DEFAULT_TOKEN_ISSUER: &str = "accounts";

/// The settings of the system itself, the same on both backends.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The front end's base URL, which links in mails point at (`APP_URL`).
    pub app_url: Option<String>,
    /// The name of the token signing key set among the secrets (`SIGNING_KEYS_SECRET`): read by
    /// what signs tokens only.
    pub signing_keys_secret: String,
    /// The name of its public half (`PUBLIC_KEYS_SECRET`): read by what verifies tokens.
    pub public_keys_secret: String,
    /// The name of the key page cursors are sealed with, among the secrets
    /// (`CURSOR_KEY_SECRET`); created with a random value when missing.
    pub cursor_key_secret: String,
    /// Where the blobs under [`shared::blob::PUBLIC_PREFIX`] are served from
    /// (`PUBLIC_BLOB_URL`); the local system serves them itself.
    pub public_blob_url: Option<String>,
    /// The `iss` and `aud` of access tokens (`TOKEN_ISSUER`, `TOKEN_AUDIENCE`).
    pub token_issuer: String,
    pub token_audience: String,
    /// How old a pending outbox event must be before the reconciliation publishes it
    /// (`OUTBOX_RECONCILE_AFTER_SECONDS`).
    pub outbox_reconcile_after: Duration,
    /// How long an address may stay unverified before the account is removed
    /// (`UNVERIFIED_ACCOUNT_DAYS`).
    pub unverified_account_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            app_url: None,
            signing_keys_secret: shared::auth::keys::DEFAULT_SECRET_NAME.to_owned(),
            public_keys_secret: shared::auth::keys::DEFAULT_PUBLIC_SECRET_NAME.to_owned(),
            cursor_key_secret: shared::paging::DEFAULT_SECRET_NAME.to_owned(),
            public_blob_url: None,
            token_issuer: DEFAULT_TOKEN_ISSUER.to_owned(),
            token_audience: DEFAULT_TOKEN_AUDIENCE.to_owned(),
            outbox_reconcile_after: OUTBOX_RECONCILE_AFTER,
            unverified_account_ttl: UNVERIFIED_ACCOUNT_TTL,
        }
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let defaults = Self::default();
        Ok(Self {
            app_url: var("APP_URL"),
            signing_keys_secret: var("SIGNING_KEYS_SECRET").unwrap_or(defaults.signing_keys_secret),
            public_keys_secret: var("PUBLIC_KEYS_SECRET").unwrap_or(defaults.public_keys_secret),
            cursor_key_secret: var("CURSOR_KEY_SECRET").unwrap_or(defaults.cursor_key_secret),
            public_blob_url: var("PUBLIC_BLOB_URL"),
            token_issuer: var("TOKEN_ISSUER").unwrap_or(defaults.token_issuer),
            token_audience: var("TOKEN_AUDIENCE").unwrap_or(defaults.token_audience),
            outbox_reconcile_after: number("OUTBOX_RECONCILE_AFTER_SECONDS")?
                .map_or(defaults.outbox_reconcile_after, Duration::from_secs),
            unverified_account_ttl: number("UNVERIFIED_ACCOUNT_DAYS")?
                .map_or(defaults.unverified_account_ttl, |days| {
                    Duration::from_secs(days.saturating_mul(24 * 3600))
                }),
        })
    }

    /// Where public blobs are served from, required by whoever asks for it.
    pub fn public_blob_url(&self) -> anyhow::Result<String> {
        required("PUBLIC_BLOB_URL", &self.public_blob_url)
    }

    /// The front end's base URL, required by whoever asks for it.
    pub fn app_url(&self) -> anyhow::Result<String> {
        required("APP_URL", &self.app_url)
    }
}

/// What the AWS backend needs to find its resources. Every resource is optional here and
/// required by the accessor that uses it, so a function only needs the variables of the ports
/// it uses. The SDK itself reads the standard AWS variables (region, credentials, and
/// `AWS_ENDPOINT_URL` to talk to an emulator).
#[derive(Debug, Clone, Default)]
pub struct AwsEnv {
    pub settings: Settings,
    pub table_name: Option<String>,
    pub jobs_queue_url: Option<String>,
    pub events_queue_url: Option<String>,
    /// The queues' dead-letter queues (`JOBS_DLQ_URL`, `EVENTS_DLQ_URL`): only the admin
    /// command line reads them, to show and redrive what they hold.
    pub jobs_dlq_url: Option<String>,
    pub events_dlq_url: Option<String>,
    pub blob_bucket: Option<String>,
    pub mail_from: Option<String>,
    /// Path-style S3 addressing (`{endpoint}/{bucket}/{key}`), which emulators need.
    pub s3_force_path_style: bool,
    pub secrets_cache_ttl: Duration,
}

impl AwsEnv {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            settings: Settings::from_env()?,
            table_name: var("TABLE_NAME"),
            jobs_queue_url: var("JOBS_QUEUE_URL"),
            events_queue_url: var("EVENTS_QUEUE_URL"),
            jobs_dlq_url: var("JOBS_DLQ_URL"),
            events_dlq_url: var("EVENTS_DLQ_URL"),
            blob_bucket: var("BLOB_BUCKET"),
            mail_from: var("MAIL_FROM"),
            s3_force_path_style: flag("S3_FORCE_PATH_STYLE")?,
            secrets_cache_ttl: Duration::from_secs(number("SECRETS_CACHE_SECONDS")?.unwrap_or(300)),
        })
    }
}

/// The local system's settings.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub settings: Settings,
    /// Where every piece of local state lives (`./.local` by default).
    pub data_dir: PathBuf,
    /// The address the local server is reached at, for the links it signs.
    pub base_url: String,
    /// Receives of a message before it dead-letters, as the queues' redrive policies on AWS.
    pub max_receives: u32,
}

impl LocalConfig {
    /// The local system under `data_dir`, reached at `base_url`: its tokens name that address
    /// as their issuer and its mails link to it.
    pub fn new(data_dir: impl Into<PathBuf>, base_url: impl Into<String>) -> Self {
        let base_url = base_url.into();
        Self {
            settings: Settings {
                app_url: Some(base_url.clone()),
                token_issuer: base_url.clone(),
                ..Settings::default()
            },
            data_dir: data_dir.into(),
            base_url,
            max_receives: shared::jobs::enqueue::MAX_RECEIVES,
        }
    }
}

pub(crate) fn required(name: &str, value: &Option<String>) -> anyhow::Result<String> {
    value
        .clone()
        .with_context(|| format!("the environment variable {name} is not set"))
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn flag(name: &str) -> anyhow::Result<bool> {
    match var(name).as_deref() {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => anyhow::bail!("{name} must be true or false, not {other:?}"),
    }
}

fn number(name: &str) -> anyhow::Result<Option<u64>> {
    var(name)
        .map(|v| {
            v.parse()
                .with_context(|| format!("{name} must be a number, not {v:?}"))
        })
        .transpose()
}
