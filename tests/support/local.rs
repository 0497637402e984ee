//! Fixtures for the local adapters: a fresh data directory per test, and the local blob routes
//! served on a random loopback port.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use infra::blob::local::LocalBlobs;
use infra::compose::{Backend, LocalBackend};
use infra::config::LocalConfig;
use infra::local_db::LocalDb;
use shared::clock::{Clock, OsRandom, Random, SystemClock};
use tempfile::TempDir;
use tokio::task::JoinHandle;

/// A fresh data directory, removed when dropped.
#[derive(Debug)]
pub struct LocalEnv {
    pub dir: TempDir,
    pub clock: Arc<dyn Clock>,
}

impl LocalEnv {
    pub fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating a data directory")?;
        Ok(Self {
            dir,
            clock: Arc::new(SystemClock),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The database of this directory (a new handle on the same file each call).
    pub fn db(&self) -> anyhow::Result<LocalDb> {
        LocalDb::open(&self.path().join("local.db"))
    }
}

/// The local blob store of an environment, reachable over HTTP until dropped.
#[derive(Debug)]
pub struct BlobServer {
    pub blobs: Arc<LocalBlobs>,
    pub base_url: String,
    task: JoinHandle<()>,
}

impl BlobServer {
    pub async fn start(env: &LocalEnv) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port")?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let blobs = Arc::new(LocalBlobs::new(
            env.path().join("blobs"),
            base_url.clone(),
            OsRandom.bytes::<32>(),
            Arc::clone(&env.clock),
        ));
        let app = local_system::blobs::routes(Arc::clone(&blobs));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the local blob server stopped");
            }
        });
        Ok(Self {
            blobs,
            base_url,
            task,
        })
    }
}

impl Drop for BlobServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A local backend over `dir` as the local system starts it: the signing keys created and the
/// role catalog seeded.
pub async fn identity_backend(dir: &Path) -> anyhow::Result<LocalBackend> {
    identity_backend_on(dir, Arc::new(SystemClock)).await
}

/// [`identity_backend`] on `clock`: the store, the use cases and the guard all read it.
pub async fn identity_backend_on(
    dir: &Path,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<LocalBackend> {
    let config = LocalConfig::new(dir, "http://127.0.0.1:3000");
    let backend = LocalBackend::open(config, clock, Arc::new(OsRandom)).await?;
    prepare_identity(&backend).await?;
    Ok(backend)
}

/// What the local system does at start, on any backend: creates the signing key set unless
/// one exists (and publishes its public half), and seeds the role catalog.
pub async fn prepare_identity(backend: &dyn Backend) -> anyhow::Result<()> {
    infra::compose::ensure_keys(backend).await?;
    shared::rbac::seed::seed(backend.store()?.as_ref(), backend.clock().now()).await?;
    Ok(())
}

/// A new account's fields: `email`, named "Someone", with `password`, verified or not.
pub fn new_account(
    email: &str,
    password: &str,
    verified: bool,
) -> anyhow::Result<shared::accounts::register::NewAccount> {
    Ok(shared::accounts::register::NewAccount {
        email: shared::users::Email::parse(email)?,
        name: shared::users::Name::parse("Someone")?,
        phone: None,
        password: shared::auth::password::Password::parse(password.to_owned())?,
        verified,
        extra_roles: Vec::new(),
    })
}
