//! Configuration, read from the environment once at start.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

/// How old a pending outbox event must be, by default, before the reconciliation publishes it:
/// well past the relay's usual delay of a second or two, so the two rarely both publish.
pub const OUTBOX_RECONCILE_AFTER: Duration = Duration::from_secs(5 * 60);

/// What the AWS backend needs to find its resources. Every resource is optional here and
/// required by the accessor that uses it, so a function only needs the variables of the ports
/// it uses. The SDK itself reads the standard AWS variables (region, credentials, and
/// `AWS_ENDPOINT_URL` to talk to an emulator).
#[derive(Debug, Clone, Default)]
pub struct AwsEnv {
    /// The front end's base URL, which links in mails point at (`APP_URL`).
    pub app_url: Option<String>,
    pub table_name: Option<String>,
    pub jobs_queue_url: Option<String>,
    pub events_queue_url: Option<String>,
    pub blob_bucket: Option<String>,
    pub mail_from: Option<String>,
    pub signing_keys_secret: String,
    /// Path-style S3 addressing (`{endpoint}/{bucket}/{key}`), which emulators need.
    pub s3_force_path_style: bool,
    pub secrets_cache_ttl: Duration,
    /// How old a pending outbox event must be before the reconciliation publishes it.
    pub outbox_reconcile_after: Duration,
    /// The `iss` and `aud` of access tokens (`TOKEN_ISSUER`, `TOKEN_AUDIENCE`).
    pub token_issuer: String,
    pub token_audience: String,
    /// How long an address may stay unverified before the account is removed
    /// (`UNVERIFIED_ACCOUNT_DAYS`).
    pub unverified_account_ttl: Duration,
}

/// Unverified accounts are removed after this long unless configured.
pub const UNVERIFIED_ACCOUNT_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The `aud` of access tokens unless configured: this API.
pub const DEFAULT_TOKEN_AUDIENCE: &str = "accounts-api";

impl AwsEnv {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            app_url: var("APP_URL"),
            table_name: var("TABLE_NAME"),
            jobs_queue_url: var("JOBS_QUEUE_URL"),
            events_queue_url: var("EVENTS_QUEUE_URL"),
            blob_bucket: var("BLOB_BUCKET"),
            mail_from: var("MAIL_FROM"),
            signing_keys_secret: var("SIGNING_KEYS_SECRET")
                .unwrap_or_else(|| shared::auth::keys::DEFAULT_SECRET_NAME.to_owned()),
            s3_force_path_style: flag("S3_FORCE_PATH_STYLE")?,
            secrets_cache_ttl: Duration::from_secs(number("SECRETS_CACHE_SECONDS")?.unwrap_or(300)),
            outbox_reconcile_after: Duration::from_secs(
                number("OUTBOX_RECONCILE_AFTER_SECONDS")?
                    .unwrap_or(OUTBOX_RECONCILE_AFTER.as_secs()),
            ),
            token_issuer: var("TOKEN_ISSUER").unwrap_or_else(|| "accounts".to_owned()),
            token_audience: var("TOKEN_AUDIENCE")
                .unwrap_or_else(|| DEFAULT_TOKEN_AUDIENCE.to_owned()),
            unverified_account_ttl: number("UNVERIFIED_ACCOUNT_DAYS")?
                .map_or(UNVERIFIED_ACCOUNT_TTL, |days| {
                    Duration::from_secs(days.saturating_mul(24 * 3600))
                }),
        })
    }

    pub(crate) fn required(name: &str, value: &Option<String>) -> anyhow::Result<String> {
        value
            .clone()
            .with_context(|| format!("the environment variable {name} is not set"))
    }
}

/// The local system's settings.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Where every piece of local state lives (`./.local` by default).
    pub data_dir: PathBuf,
    /// The address the local server is reached at, for the links it signs.
    pub base_url: String,
    /// Receives of a message before it dead-letters, as the queues' redrive policies on AWS.
    pub max_receives: u32,
    /// How old a pending outbox event must be before the reconciliation publishes it.
    pub outbox_reconcile_after: Duration,
    /// How long an address may stay unverified before the account is removed.
    pub unverified_account_ttl: Duration,
}

impl LocalConfig {
    pub fn new(data_dir: impl Into<PathBuf>, base_url: impl Into<String>) -> Self {
        Self {
            data_dir: data_dir.into(),
            base_url: base_url.into(),
            max_receives: 5,
            outbox_reconcile_after: OUTBOX_RECONCILE_AFTER,
            unverified_account_ttl: UNVERIFIED_ACCOUNT_TTL,
        }
    }
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
