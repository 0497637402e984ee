//! The local system under test: [`spawn_app`] starts it in-process on a free port over a fresh
//! data directory, and [`TestApp`] talks to it over real HTTP.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use local_system::{LocalSystem, Options};
use reqwest::{Method, Response};
use serde_json::Value;
use tempfile::TempDir;

/// A running local system and a client for it.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub client: reqwest::Client,
    data_dir: Arc<TempDir>,
    options: Options,
    system: LocalSystem,
}

/// Starts the local system on a free port over a fresh data directory.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_app_with(|options| options).await
}

/// [`spawn_app`] with options of its own (a bootstrap administrator, ...).
pub async fn spawn_app_with(configure: impl FnOnce(Options) -> Options) -> anyhow::Result<TestApp> {
    let data_dir = tempfile::tempdir().context("creating a data directory")?;
    let options = configure(Options::ephemeral(data_dir.path()));
    TestApp::start(Arc::new(data_dir), options).await
}

impl TestApp {
    async fn start(data_dir: Arc<TempDir>, options: Options) -> anyhow::Result<Self> {
        let system = LocalSystem::start(options.clone()).await?;
        let address = format!("http://{}", system.addr());
        // No connection pool: every request opens its own, so a stop never waits on an idle one.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .context("building the client")?;
        Ok(Self {
            address,
            client,
            data_dir,
            options,
            system,
        })
    }

    /// Stops the system and starts a new one over the same data directory.
    pub async fn restart(self) -> anyhow::Result<Self> {
        let (data_dir, options) = (self.data_dir.clone(), self.options.clone());
        self.system.stop().await?;
        Self::start(data_dir, options).await
    }

    /// Stops the system, waiting for everything in flight.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.system.stop().await
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn request(&self, method: Method, path: &str) -> anyhow::Result<Response> {
        self.client
            .request(method, self.url(path))
            .send()
            .await
            .with_context(|| format!("requesting {path}"))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Response> {
        self.request(Method::GET, path).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Response> {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .with_context(|| format!("posting to {path}"))
    }

    /// Posts any bytes with any content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Response> {
        self.client
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .with_context(|| format!("posting to {path}"))
    }

    /// Every mail the system sent, newest first.
    pub async fn mailbox(&self) -> anyhow::Result<Vec<Value>> {
        let body: Value = self
            .get("/_local/mailbox")
            .await?
            .error_for_status()?
            .json()
            .await?;
        body["items"]
            .as_array()
            .cloned()
            .context("the mailbox has no items list")
    }

    /// The public key set.
    pub async fn jwks(&self) -> anyhow::Result<Value> {
        Ok(self
            .get("/.well-known/jwks.json")
            .await?
            .error_for_status()?
            .json()
            .await?)
    }
}
