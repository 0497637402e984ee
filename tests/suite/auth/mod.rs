//! The identity flows end to end over real HTTP, each written once over [`AuthSystem`] and run
//! against the local system and against the AWS adapters on the emulator
//! (`auth::<file>::local::<case>`, `auth::<file>::aws::<case>`); plus what only the use cases
//! can show: expiry under a moved clock, races without the HTTP throttle, and the logs.

mod accounts_race;
mod expiry;
mod flows;
mod guard;
mod interleaved;
mod jwt;
mod logs;
mod races;
mod systems;

use anyhow::Context;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use shared::auth::keys::KeySet;

use crate::conformance::eventually;

pub const PASSWORD: &str = "correct horse battery staple";

/// A running system as a client sees it, and what a test may read behind it: the mail it sent
/// and its signing keys.
pub trait AuthSystem {
    fn client(&self) -> &reqwest::Client;

    /// The absolute URL of `path` on the system.
    fn url(&self, path: &str) -> String;

    /// The bodies of every mail sent to `to` so far, oldest first. Where mail moves only when
    /// pushed, this pushes it one step first.
    async fn mails_to(&self, to: &str) -> anyhow::Result<Vec<String>>;

    /// The key set the system signs access tokens with.
    async fn signing_keys(&self) -> anyhow::Result<KeySet>;

    /// Creates a verified account with [`PASSWORD`] and these roles besides USER, as an
    /// administrator would (there is no endpoint for it yet); returns its id.
    async fn create_user(&self, email: &str, roles: Vec<uuid::Uuid>) -> anyhow::Result<uuid::Uuid>;

    /// Moves background work (events, jobs) one step where it moves only when pushed; the
    /// local system runs its own.
    async fn step_background(&self) -> anyhow::Result<()>;

    /// The system's item store, to set up what no endpoint makes yet.
    async fn store(&self) -> anyhow::Result<std::sync::Arc<dyn shared::store::ItemStore>>;

    /// Logs a verified account in; returns its access token.
    async fn token_of(&self, email: &str) -> anyhow::Result<String> {
        let login = self.login(email, PASSWORD).await?;
        assert_eq!(login.status(), StatusCode::OK);
        Ok(bearer(&login.json().await?))
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Response> {
        let mut request = self.client().request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .with_context(|| format!("calling {path}"))
    }

    /// Posts to `/api/v1/auth{path}`.
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Response> {
        self.call(
            Method::POST,
            &format!("/api/v1/auth{path}"),
            None,
            Some(body),
        )
        .await
    }

    async fn register(&self, email: &str) -> anyhow::Result<Response> {
        self.post(
            "/register",
            json!({"email": email, "name": "Ada", "password": PASSWORD}),
        )
        .await
    }

    async fn login(&self, email: &str, password: &str) -> anyhow::Result<Response> {
        self.post("/login", json!({"email": email, "password": password}))
            .await
    }

    async fn profile(&self, access_token: &str) -> anyhow::Result<StatusCode> {
        Ok(self
            .call(
                Method::GET,
                "/api/v1/auth/profile",
                Some(access_token),
                None,
            )
            .await?
            .status())
    }

    /// The token of the newest mail to `to` whose link goes to `path`, once more than `after`
    /// such mails have arrived.
    async fn mailed_token(&self, to: &str, path: &str, after: usize) -> anyhow::Result<String> {
        eventually(&format!("a {path} mail to {to}"), || async {
            let tokens: Vec<String> = self
                .mails_to(to)
                .await?
                .iter()
                .filter_map(|body| link_token(body, path))
                .collect();
            Ok((tokens.len() > after).then(|| tokens[tokens.len() - 1].clone()))
        })
        .await
    }

    /// Registers, verifies and logs in; returns the login body.
    async fn signed_up(&self, email: &str) -> anyhow::Result<Value> {
        assert_eq!(self.register(email).await?.status(), StatusCode::CREATED);
        let token = self.mailed_token(email, "verify-email", 0).await?;
        let verified = self.post("/verify-email", json!({"token": token})).await?;
        assert_eq!(verified.status(), StatusCode::OK);
        let login = self.login(email, PASSWORD).await?;
        assert_eq!(login.status(), StatusCode::OK);
        Ok(login.json().await?)
    }
}

/// The token of the first link to `/{path}?token=` in a mail body (text or HTML).
pub fn link_token(body: &str, path: &str) -> Option<String> {
    let rest = body.split(&format!("/{path}?token=")).nth(1)?;
    let token: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '%'))
        .collect();
    (!token.is_empty()).then_some(token)
}

/// One `#[tokio::test]` per case and system, named `local_system::<case>` and `aws::<case>`: each
/// starts a fresh system, runs `super::<case>(&system)`, and stops it.
macro_rules! on_both_systems {
    ($($case:ident),+ $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $case() -> anyhow::Result<()> {
                    let system = tests::app::spawn_app().await?;
                    super::$case(&system).await?;
                    system.stop().await
                }
            )+
        }

        mod aws {
            $(
                #[tokio::test]
                async fn $case() -> anyhow::Result<()> {
                    let system = tests::aws_app::spawn_aws_app().await?;
                    super::$case(&system).await?;
                    system.stop().await
                }
            )+
        }
    };
}
pub(crate) use on_both_systems;

/// A problem body without its request id, to compare two answers.
pub fn without_request_id(mut body: Value) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.remove("request_id");
    }
    body
}

pub fn bearer(login: &Value) -> String {
    login["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token in {login}"))
        .to_owned()
}

pub fn refresh_token(login: &Value) -> String {
    login["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token in {login}"))
        .to_owned()
}
