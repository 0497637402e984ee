//! The cross-cutting promises of API.md over real HTTP: security headers on every response,
//! and every error as problem+json with its request id.

use reqwest::{Method, Response};
use serde_json::Value;
use tests::app::spawn_app;

/// Checks a problem response and returns its body.
async fn problem(response: Response, status: u16, code: &str) -> anyhow::Result<Value> {
    assert_eq!(response.status(), status);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    let body: Value = response.json().await?;
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code);
    assert_eq!(body["type"], "about:blank");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    assert_eq!(
        body["request_id"].as_str(),
        headers["x-request-id"].to_str().ok()
    );
    Ok(body)
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem_with_every_security_header() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    problem(app.get("/api/v1/nothing-here").await?, 404, "not_found").await?;
    app.stop().await
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_naming_the_allowed_ones() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let response = app.request(Method::DELETE, "/health").await?;
    assert!(response.headers()["allow"].to_str()?.contains("GET"));
    problem(response, 405, "method_not_allowed").await?;
    app.stop().await
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_a_413_problem() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    // The limit holds on every route, whether or not its handler reads the body.
    let body = vec![b'x'; 1024 * 1024 + 1];
    let response = app
        .client
        .get(app.url("/health"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    problem(response, 413, "payload_too_large").await?;
    app.stop().await
}

#[tokio::test]
async fn every_request_gets_its_own_id() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let first = app.get("/health").await?;
    let second = app.get("/health").await?;
    let id = |r: &Response| r.headers()["x-request-id"].to_str().map(str::to_owned);
    assert_ne!(id(&first)?, id(&second)?);
    assert_eq!(uuid::Uuid::parse_str(&id(&first)?)?.get_version_num(), 7);
    app.stop().await
}

#[tokio::test]
async fn a_client_cannot_choose_its_request_id() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let response = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "forged")
        .send()
        .await?;
    assert_ne!(response.headers()["x-request-id"], "forged");
    app.stop().await
}

#[tokio::test]
async fn a_json_array_was_read_as_an_object_field_by_field() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    // serde reads a struct from an array, field by field in declaration order: this registered
    // an account.
    let positional = serde_json::json!(["array@example.com", "Ada", "a long enough passphrase"]);
    let body = problem(
        app.post_json("/api/v1/auth/register", &positional).await?,
        400,
        "validation_failed",
    )
    .await?;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("array")),
        "{body}"
    );
    let login = app
        .post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"email": "array@example.com", "password": "a long enough passphrase"}),
        )
        .await?;
    assert_eq!(login.status(), 401, "the array made an account");
    // An empty array, which every field's default would have filled in.
    let empty = serde_json::json!([]);
    problem(
        app.post_json("/api/v1/auth/resend-verification", &empty)
            .await?,
        400,
        "validation_failed",
    )
    .await?;
    app.stop().await
}
