//! No password or token reaches the logs, whatever the level.
//!
//! The test's current-thread runtime runs the in-process server and its event runtime on the
//! test's own thread, so a subscriber set as the thread's default sees every event and span
//! they record, from every target, down to TRACE. (Work on the blocking pool, argon2id, logs
//! nothing.)

use std::io;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::app::spawn_app;
use tracing_subscriber::fmt::format::FmtSpan;

use super::{AuthSystem, PASSWORD, bearer, refresh_token};

/// Everything the subscriber wrote.
#[derive(Debug, Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
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
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let app = spawn_app().await?;
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
    app.stop().await?;

    let log = captured.text();
    // The capture sees the server's own logs, from the use cases to the request spans.
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
