//! Tokens past their lifetime, with time moved by a manual clock instead of waited out.
//!
//! The use cases, the `send_email` job that mints one-time tokens and the guard all read one
//! [`ManualClock`], and so does the store (whose expiry hides a stale token), locally and on the
//! emulator: the system is built by the composition root on that clock, and its endpoints are
//! served over HTTP, so each refusal is the status a client gets. Each case shows first that the token still works a second before it expires.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_trait::async_trait;
use chrono::{SubsecRound, TimeDelta, Utc};
use functions::jobs::JobType;
use functions::jobs::send_email::{SendEmail, SendEmailPayload};
use functions::wiring::{self, FUNCTIONS};
use infra::compose::{ACCESS_TOKEN_TTL, AwsBackend, Backend, LocalBackend};
use infra::config::{AwsEnv, LocalConfig, Settings};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::accounts::Accounts;
use shared::accounts::register::NewAccount;
use shared::auth::access_token::DEFAULT_LEEWAY;
use shared::auth::password::Password;
use shared::clock::{ManualClock, OsRandom};
use shared::emails::Template;
use shared::mail::{Mail, MailError, Mailer};
use shared::users::{Email, Name, User};
use tempfile::TempDir;
use tests::moto::moto;
use tests::provision;
use tokio::task::JoinHandle;

use super::{PASSWORD, link_token};

/// The mailer of the `send_email` job: keeps what it is given.
#[derive(Debug, Default)]
struct Outbox(Mutex<Vec<Mail>>);

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let mut sent = self.0.lock().unwrap();
        sent.push(mail.clone());
        Ok(format!("m-{}", sent.len()))
    }
}

/// The auth endpoints that take tokens, served over a store on a manual clock.
struct Clocked {
    clock: Arc<ManualClock>,
    accounts: Accounts,
    send_email: SendEmail,
    outbox: Arc<Outbox>,
    address: String,
    client: reqwest::Client,
    server: JoinHandle<()>,
    _dir: TempDir,
}

impl Drop for Clocked {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A clock at a whole second, so no expiry rounds across the boundary a case tests.
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Utc::now().trunc_subsecs(0)))
}

impl Clocked {
    /// The local system's backend on a manual clock, built by the composition root.
    async fn local() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let clock = clock();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = format!("http://{}", listener.local_addr()?);
        let config = LocalConfig::new(dir.path(), &address);
        let backend = LocalBackend::open(config, clock.clone(), Arc::new(OsRandom)).await?;
        Self::start(Box::new(backend), clock, listener, dir).await
    }

    /// The AWS backend on the emulator, on a manual clock, built by the composition root.
    async fn on_emulator() -> anyhow::Result<Self> {
        let moto = moto().await?;
        let clock = clock();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = format!("http://{}", listener.local_addr()?);
        let env = AwsEnv {
            settings: Settings {
                app_url: Some(address.clone()),
                signing_keys_secret: provision::unique("signing-keys"),
                public_keys_secret: provision::unique("public-keys"),
                token_issuer: address,
                ..Settings::default()
            },
            table_name: Some(provision::table(moto).await?),
            // Every route is served, the avatar form's among them.
            blob_bucket: Some(provision::bucket(moto).await?),
            s3_force_path_style: true,
            secrets_cache_ttl: std::time::Duration::from_secs(60),
            ..AwsEnv::default()
        };
        let backend = AwsBackend::new(moto.sdk_config(), env, clock.clone(), Arc::new(OsRandom));
        Self::start(Box::new(backend), clock, listener, tempfile::tempdir()?).await
    }

    /// Serves every route over `backend`; the `send_email` job is built over it too, with a
    /// mailer that keeps what it sends.
    async fn start(
        backend: Box<dyn Backend>,
        clock: Arc<ManualClock>,
        listener: tokio::net::TcpListener,
        dir: TempDir,
    ) -> anyhow::Result<Self> {
        let address = format!("http://{}", listener.local_addr()?);
        tests::local::prepare_identity(backend.as_ref()).await?;
        let app = functions::http::app(
            wiring::router(backend.as_ref(), FUNCTIONS)?,
            &wiring::routes(FUNCTIONS),
        );
        let server = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(error) = axum::serve(listener, service).await {
                tracing::error!(%error, "the test server stopped");
            }
        });
        let outbox = Arc::new(Outbox::default());
        let send_email = SendEmail::new(
            outbox.clone(),
            backend.store()?,
            backend.clock(),
            backend.random(),
            backend.settings().app_url()?,
        );
        Ok(Self {
            clock,
            accounts: backend.accounts()?,
            send_email,
            outbox,
            address,
            client: reqwest::Client::new(),
            server,
            _dir: dir,
        })
    }

    async fn user(&self, email: &str, verified: bool) -> anyhow::Result<User> {
        Ok(self
            .accounts
            .create(NewAccount {
                email: Email::parse(email)?,
                name: Name::parse("Clocked")?,
                phone: None,
                password: Password::parse(PASSWORD.to_owned())?,
                verified,
                extra_roles: Vec::new(),
            })
            .await?)
    }

    /// Sends the user the mail as the job does when it runs now; returns its link's token.
    async fn mailed_token(&self, user: &User, template: Template) -> anyhow::Result<String> {
        let payload = SendEmailPayload::ToUser {
            template,
            user_id: user.id,
        };
        self.send_email
            .run(payload)
            .await
            .map_err(|e| anyhow::anyhow!("sending the mail: {e}"))?;
        let path = match template {
            Template::Reset => "reset-password",
            _ => "verify-email",
        };
        let sent = self.outbox.0.lock().unwrap();
        sent.last()
            .and_then(|mail| link_token(&mail.text, path))
            .context("the mail has no link")
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}/api/v1/auth{path}", self.address))
            .json(&body)
            .send()
            .await?)
    }

    async fn profile(&self, access_token: &str) -> anyhow::Result<StatusCode> {
        let response = self
            .client
            .get(format!("{}/api/v1/auth/profile", self.address))
            .bearer_auth(access_token)
            .send()
            .await?;
        Ok(response.status())
    }
}

async fn assert_invalid_token(response: reqwest::Response) -> anyhow::Result<()> {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await?["code"], "invalid_token");
    Ok(())
}

async fn a_verification_token_is_refused_once_24_hours_old(system: Clocked) -> anyhow::Result<()> {
    let user = system.user("late@example.com", false).await?;
    let on_time = system.mailed_token(&user, Template::Verification).await?;
    let late = system.mailed_token(&user, Template::Verification).await?;

    system
        .clock
        .advance(TimeDelta::hours(24) - TimeDelta::seconds(1));
    let verified = system
        .post("/verify-email", json!({"token": on_time}))
        .await?;
    assert_eq!(verified.status(), StatusCode::OK);

    system.clock.advance(TimeDelta::seconds(1));
    assert_invalid_token(system.post("/verify-email", json!({"token": late})).await?).await
}

async fn a_reset_token_is_refused_once_an_hour_old(system: Clocked) -> anyhow::Result<()> {
    let user = system.user("forgetful@example.com", true).await?;
    let on_time = system.mailed_token(&user, Template::Reset).await?;
    let late = system.mailed_token(&user, Template::Reset).await?;
    let confirm = |token: &str, password: &str| json!({"token": token, "new_password": password});

    system
        .clock
        .advance(TimeDelta::hours(1) - TimeDelta::seconds(1));
    let reset = system
        .post(
            "/confirm-reset",
            confirm(&on_time, "a brand new passphrase"),
        )
        .await?;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);

    system.clock.advance(TimeDelta::seconds(1));
    let late = system
        .post("/confirm-reset", confirm(&late, "another new passphrase"))
        .await?;
    assert_invalid_token(late).await
}

async fn an_access_token_is_refused_past_15_minutes_and_the_leeway(
    system: Clocked,
) -> anyhow::Result<()> {
    system.user("slow@example.com", true).await?;
    let login = system
        .post(
            "/login",
            json!({"email": "slow@example.com", "password": PASSWORD}),
        )
        .await?;
    assert_eq!(login.status(), StatusCode::OK);
    let token = super::bearer(&login.json().await?);

    system
        .clock
        .advance(ACCESS_TOKEN_TTL + DEFAULT_LEEWAY - TimeDelta::seconds(1));
    assert_eq!(system.profile(&token).await?, StatusCode::OK);
    system.clock.advance(TimeDelta::seconds(1));
    assert_eq!(system.profile(&token).await?, StatusCode::UNAUTHORIZED);
    Ok(())
}

async fn a_session_ends_after_a_week_idle_or_thirty_days_in_all(
    system: Clocked,
) -> anyhow::Result<()> {
    system.user("idle@example.com", true).await?;
    let login = || {
        system.post(
            "/login",
            json!({"email": "idle@example.com", "password": PASSWORD}),
        )
    };
    let refreshed = |token: String| {
        let system = &system;
        async move {
            let response = system
                .post("/refresh", json!({"refresh_token": token}))
                .await?;
            let status = response.status();
            let next = if status == StatusCode::OK {
                Some(super::refresh_token(&response.json().await?))
            } else {
                None
            };
            anyhow::Ok((status, next))
        }
    };

    // Used within every week, a session goes on, but not past thirty days in all.
    let mut token = super::refresh_token(&login().await?.json().await?);
    for _ in 0..4 {
        system
            .clock
            .advance(TimeDelta::days(6) + TimeDelta::hours(23));
        let (status, next) = refreshed(token).await?;
        assert_eq!(status, StatusCode::OK);
        token = next.expect("a refreshed session has a new token");
    }
    system.clock.advance(TimeDelta::days(3));
    assert_eq!(
        refreshed(token).await?.0,
        StatusCode::UNAUTHORIZED,
        "past 30 days"
    );

    // Unused for a week, it ends.
    let token = super::refresh_token(&login().await?.json().await?);
    system.clock.advance(TimeDelta::days(7));
    assert_eq!(
        refreshed(token).await?.0,
        StatusCode::UNAUTHORIZED,
        "a week idle"
    );
    Ok(())
}

/// Each case on the local store and on DynamoDB on the emulator.
macro_rules! on_both_stores {
    ($($case:ident),+ $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $case() -> anyhow::Result<()> {
                    super::$case(super::Clocked::local().await?).await
                }
            )+
        }

        mod aws {
            $(
                #[tokio::test]
                async fn $case() -> anyhow::Result<()> {
                    super::$case(super::Clocked::on_emulator().await?).await
                }
            )+
        }
    };
}

on_both_stores!(
    a_verification_token_is_refused_once_24_hours_old,
    a_reset_token_is_refused_once_an_hour_old,
    an_access_token_is_refused_past_15_minutes_and_the_leeway,
    a_session_ends_after_a_week_idle_or_thirty_days_in_all,
);
