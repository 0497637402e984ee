//! The system endpoints and the local pages.

use serde_json::Value;
use tests::app::spawn_app;

#[tokio::test]
async fn health_is_ok_and_names_the_version() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let response = app.get("/health").await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await?;
    assert_eq!(body["status"], "ok");
    assert!(
        body["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{body}"
    );
    app.stop().await
}

#[tokio::test]
async fn the_key_set_publishes_ed25519_keys_with_ids() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let jwks = app.jwks().await?;
    let keys = jwks["keys"].as_array().cloned().unwrap();
    assert!(!keys.is_empty(), "{jwks}");
    for key in &keys {
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["alg"], "EdDSA");
        assert!(
            key["kid"].as_str().is_some_and(|kid| kid.len() >= 40),
            "{key}"
        );
        assert!(key.get("d").is_none(), "a private key was published: {key}");
    }
    app.stop().await
}

#[tokio::test]
async fn the_key_ids_survive_a_restart_on_the_same_data() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let before = app.jwks().await?;
    let app = app.restart().await?;
    assert_eq!(app.jwks().await?, before);
    app.stop().await
}

#[tokio::test]
async fn a_fresh_system_has_separate_keys() -> anyhow::Result<()> {
    let (one, two) = (spawn_app().await?, spawn_app().await?);
    assert_ne!(one.jwks().await?, two.jwks().await?);
    one.stop().await?;
    two.stop().await
}

#[tokio::test]
async fn the_mailbox_starts_empty_and_has_a_page() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    assert_eq!(app.mailbox().await?, Vec::<Value>::new());
    let page = app.get("/_local/mailbox/view").await?;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    assert!(
        page.headers()["content-security-policy"]
            .to_str()?
            .starts_with("default-src 'none'")
    );
    assert!(page.text().await?.contains("No mail yet"));
    app.stop().await
}

#[tokio::test]
async fn the_local_blob_store_is_mounted_and_refuses_unsigned_downloads() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let response = app.get("/_local/blobs/avatars/someone.png").await?;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(response.headers().contains_key("x-request-id"));
    app.stop().await
}

#[tokio::test]
async fn a_request_for_another_host_is_refused_as_a_rebinding_page_would_send_it()
-> anyhow::Result<()> {
    let app = spawn_app().await?;
    let port = app
        .address
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    for (host, expected) in [
        (format!("evil.example:{port}"), 400),
        (format!("localhost:{port}"), 200),
        (format!("127.0.0.1:{port}"), 200),
    ] {
        let response = app
            .client
            .get(format!("{}/_local/mailbox", app.address))
            .header("host", &host)
            .send()
            .await?;
        assert_eq!(response.status(), expected, "Host: {host}");
        if expected == 400 {
            let body: Value = response.json().await?;
            assert_eq!(body["code"], "unknown_host", "{body}");
        }
    }
    app.stop().await
}

#[tokio::test]
async fn the_links_in_the_mails_open_pages_that_finish_the_flow() -> anyhow::Result<()> {
    use crate::auth::{AuthSystem, PASSWORD};
    use reqwest::StatusCode;

    let app = spawn_app().await?;
    let email = "linked@example.com";
    assert_eq!(app.register(email).await?.status(), StatusCode::CREATED);
    let token = app.mailed_token(email, "verify-email", 0).await?;

    // Opening the link only shows a form: a mail scanner following it verifies nothing.
    let opened = app
        .client
        .get(format!("{}/verify-email?token={token}", app.address))
        .send()
        .await?;
    assert_eq!(opened.status(), StatusCode::OK);
    let policy = opened.headers()["content-security-policy"]
        .to_str()?
        .to_owned();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(policy.contains("form-action 'self'"), "{policy}");
    assert!(opened.text().await?.contains(&format!("value=\"{token}\"")));
    assert_eq!(
        app.login(email, PASSWORD).await?.status(),
        StatusCode::FORBIDDEN
    );

    let post = |path: &str, form: Vec<(&str, String)>| {
        app.client
            .post(format!("{}{path}", app.address))
            .form(&form)
            .send()
    };
    let verified = post("/verify-email", vec![("token", token.clone())]).await?;
    assert_eq!(verified.status(), StatusCode::OK);
    assert!(verified.text().await?.contains("Address verified"));
    assert_eq!(app.login(email, PASSWORD).await?.status(), StatusCode::OK);
    let again = post("/verify-email", vec![("token", token)]).await?;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(again.text().await?.contains("not verified"));

    let asked = app
        .post("/reset-password", serde_json::json!({"email": email}))
        .await?;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let token = app.mailed_token(email, "reset-password", 0).await?;
    let form = app
        .client
        .get(format!("{}/reset-password?token={token}", app.address))
        .send()
        .await?
        .text()
        .await?;
    assert!(form.contains("name=\"new_password\""), "{form}");
    let weak = post(
        "/reset-password",
        vec![
            ("token", token.clone()),
            ("new_password", "password123".into()),
        ],
    )
    .await?;
    assert_eq!(weak.status(), StatusCode::OK);
    let weak = weak.text().await?;
    assert!(
        weak.contains("new_password") && weak.contains("name=\"new_password\""),
        "{weak}"
    );
    let changed = post(
        "/reset-password",
        vec![
            ("token", token),
            ("new_password", "a page-chosen passphrase".into()),
        ],
    )
    .await?;
    assert_eq!(changed.status(), StatusCode::OK);
    assert!(changed.text().await?.contains("Password changed"));
    assert_eq!(
        app.login(email, "a page-chosen passphrase").await?.status(),
        StatusCode::OK
    );
    app.stop().await
}
