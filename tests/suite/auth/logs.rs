//! No password or token reaches the logs, whatever the level.
//!
//! The local system runs as its own process with `RUST_LOG=trace`, its log written to a file,
//! so the capture holds every line the system wrote, from every target and thread, and nothing
//! of other tests running beside it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use infra::compose::{Backend, LocalBackend};
use infra::secrets::local::LocalSecrets;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::auth::keys::{DEFAULT_SECRET_NAME, KeySet};
use shared::store::ItemStore;
use uuid::Uuid;

use super::{AuthSystem, PASSWORD, bearer, refresh_token, systems};

/// The local system in a child process, its stdout (the log) in a file.
struct Traced {
    child: Child,
    address: String,
    client: reqwest::Client,
    log: PathBuf,
    data_dir: tempfile::TempDir,
}

impl Traced {
    async fn start() -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let log = data_dir.path().join("local.log");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_local-system"))
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(data_dir.path().join("data"))
            .env("RUST_LOG", "trace")
            .env("NO_COLOR", "1")
            .stdout(std::fs::File::create(&log)?)
            .stderr(Stdio::null())
            .spawn()
            .context("starting the local system")?;
        let address = format!("http://127.0.0.1:{port}");
        let traced = Self {
            child,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()?,
            address,
            log,
            data_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while traced
            .client
            .get(traced.url("/health"))
            .send()
            .await
            .ok()
            .map(|r| r.status())
            != Some(StatusCode::OK)
        {
            if Instant::now() > deadline {
                bail!("the local system did not answer");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(traced)
    }

    fn data(&self) -> PathBuf {
        self.data_dir.path().join("data")
    }

    /// Stops the system as Ctrl-C would and returns everything it logged.
    fn stop(mut self) -> anyhow::Result<String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        self.child.wait()?;
        Ok(std::fs::read_to_string(&self.log)?)
    }

    async fn backend(&self) -> anyhow::Result<LocalBackend> {
        systems::local_backend(&self.data(), &self.address).await
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AuthSystem for Traced {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    async fn mails_to(&self, to: &str) -> anyhow::Result<Vec<String>> {
        let mailbox: Value = self
            .client
            .get(self.url("/_local/mailbox"))
            .send()
            .await?
            .json()
            .await?;
        let items = mailbox["items"].as_array().context("no mailbox items")?;
        Ok(systems::mails_in(items, to))
    }

    async fn signing_keys(&self) -> anyhow::Result<KeySet> {
        let secrets = LocalSecrets::new(self.data().join("secrets"));
        Ok(KeySet::load(&secrets, DEFAULT_SECRET_NAME).await?)
    }

    async fn create_user(&self, email: &str, roles: Vec<Uuid>) -> anyhow::Result<Uuid> {
        systems::create_user(&self.backend().await?, email, roles).await
    }

    async fn step_background(&self) -> anyhow::Result<()> {
        Ok(())
    }

    async fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        self.backend().await?.store()
    }
}

/// What must never be logged, by what it is.
#[derive(Debug, Default)]
struct Secrets(Vec<(&'static str, String)>);

impl Secrets {
    fn add(&mut self, what: &'static str, secret: &str) {
        assert!(!secret.is_empty(), "no {what} to look for");
        self.0.push((what, secret.to_owned()));
    }

    /// A login's tokens; the access token also by its payload and signature segments, which
    /// mean as much on their own.
    fn add_login(&mut self, login: &Value) {
        let access = bearer(login);
        self.add("an access token", &access);
        for segment in access.split('.').skip(1) {
            self.add("an access token segment", segment);
        }
        self.add("a refresh token", &refresh_token(login));
    }
}

#[tokio::test]
async fn no_password_or_token_appears_in_the_logs_of_every_flow() -> anyhow::Result<()> {
    let app = Traced::start().await?;
    let email = "quiet@example.com";
    let (first_password, second_password) = ("a brand new passphrase", "and yet another one");
    let mut secrets = Secrets::default();
    for password in [PASSWORD, first_password, second_password] {
        secrets.add("a password", password);
    }

    assert_eq!(app.register(email).await?.status(), StatusCode::CREATED);
    let verification = app.mailed_token(email, "verify-email", 0).await?;
    secrets.add("a verification token", &verification);
    let verified = app
        .post("/verify-email", json!({"token": verification}))
        .await?;
    assert_eq!(verified.status(), StatusCode::OK);

    let login: Value = app.login(email, PASSWORD).await?.json().await?;
    secrets.add_login(&login);
    let refreshed = app
        .post("/refresh", json!({"refresh_token": refresh_token(&login)}))
        .await?;
    assert_eq!(refreshed.status(), StatusCode::OK);
    secrets.add_login(&refreshed.json().await?);

    let asked = app.post("/reset-password", json!({"email": email})).await?;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let reset = app.mailed_token(email, "reset-password", 0).await?;
    secrets.add("a reset token", &reset);
    let confirmed = app
        .post(
            "/confirm-reset",
            json!({"token": reset, "new_password": first_password}),
        )
        .await?;
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);

    let login: Value = app.login(email, first_password).await?.json().await?;
    secrets.add_login(&login);
    let changed = app
        .call(
            Method::PUT,
            "/api/v1/auth/change-password",
            Some(&bearer(&login)),
            Some(json!({"current_password": first_password, "new_password": second_password})),
        )
        .await?;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let logout = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&bearer(&login)),
            None,
        )
        .await?;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let log = app.stop()?;
    // The capture holds the system's own logs, from the use cases to the request spans.
    for expected in [
        "account created",
        "logged in",
        "password reset",
        "password changed",
        "/api/v1/auth/logout",
    ] {
        assert!(
            log.contains(expected),
            "{expected:?} is not in the log:\n{log}"
        );
    }
    for (what, secret) in &secrets.0 {
        let line = log.lines().find(|line| line.contains(secret.as_str()));
        assert!(line.is_none(), "{what} is in the log: {line:?}");
    }
    Ok(())
}

/// One X-Ray trace id finds a request, the event it recorded (relayed, consumed) and the job
/// that event queued, in the logs.
#[tokio::test]
async fn a_requests_trace_id_follows_its_event_and_its_job_through_the_logs() -> anyhow::Result<()>
{
    let system = Traced::start().await?;
    let trace = "1-6745a1b2-3c4d5e6f7a8b9c0d1e2f3a4b";
    let registered = system
        .client
        .post(system.url("/api/v1/auth/register"))
        .header(
            "x-amzn-trace-id",
            format!("Root={trace};Parent=53995c3f42cd8ad8;Sampled=1"),
        )
        .json(&json!({"email": "traced@example.com", "name": "Ada", "password": PASSWORD}))
        .send()
        .await?;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let deadline = Instant::now() + Duration::from_secs(20);
    while system.mails_to("traced@example.com").await?.is_empty() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the verification mail never came"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = system.stop()?;
    let traced: Vec<&str> = log.lines().filter(|line| line.contains(trace)).collect();
    for step in [
        "served",
        "event relayed",
        "event consumed",
        "job started",
        "job succeeded",
    ] {
        assert!(
            traced.iter().any(|line| line.contains(step)),
            "no line of the trace says {step:?}:\n{}",
            traced.join("\n")
        );
    }
    Ok(())
}
