//! The local system as its own process: this package's `local` binary (in the bench profile,
//! with the allocator it ships with) over a data directory, with a bootstrap administrator.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The administrator the server creates at its first start.
pub(crate) const ADMIN: &str = "admin@example.com";
pub(crate) const ADMIN_PASSWORD: &str = "a long admin passphrase";

/// A running local system, stopped when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
    pub(crate) url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the local system over `data` on a free port and waits for `/health`.
    pub(crate) async fn start(data: &Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_local"))
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(data)
            .env("BOOTSTRAP_ADMIN_EMAIL", ADMIN)
            .env("BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("starting the local system")?;
        let server = Self {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = client.get(format!("{}/health", server.url)).send().await;
            if up.is_ok_and(|r| r.status().is_success()) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("the local system did not come up");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's resident memory, from /proc (MB).
    pub(crate) fn rss_mb(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .context("no VmRSS")?
            .parse()?;
        Ok(kb / 1024.0)
    }

    /// Signs `email` in (with [`ADMIN_PASSWORD`]): its access and refresh tokens.
    pub(crate) async fn login(
        &self,
        client: &reqwest::Client,
        email: &str,
    ) -> anyhow::Result<(String, String)> {
        let body: Value = client
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&json!({"email": email, "password": ADMIN_PASSWORD}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let field = |name: &str| body[name].as_str().map(str::to_owned);
        Ok((
            field("access_token").context("no access token")?,
            field("refresh_token").context("no refresh token")?,
        ))
    }
}
