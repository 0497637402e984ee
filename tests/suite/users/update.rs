//! `PATCH /api/v1/users/{id}`: declared fields only, the status for `users:update` only, no
//! lost update (`If-Match`), and disabling that ends the account's tokens at once.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use shared::rbac::model::seeded_role_id;
use shared::rbac::seed::MODERATOR;
use uuid::Uuid;

use crate::auth::{AuthSystem, PASSWORD, on_both_systems};

async fn patch(
    app: &impl AuthSystem,
    id: Uuid,
    token: &str,
    if_match: Option<&str>,
    body: Value,
) -> anyhow::Result<reqwest::Response> {
    let mut request = app
        .client()
        .patch(app.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(token)
        .json(&body);
    if let Some(tag) = if_match {
        request = request.header(header::IF_MATCH, tag);
    }
    Ok(request.send().await?)
}

async fn a_user_changes_their_name_and_clears_their_phone(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let id = app.create_user("ada@example.com", vec![]).await?;
    let token = app.token_of("ada@example.com").await?;
    let body = json!({"name": "Ada King", "phone": null});
    let response = patch(app, id, &token, None, body).await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::ETAG], "\"1\"");
    let body: Value = response.json().await?;
    assert_eq!(body["user"]["name"], "Ada King");
    assert_eq!(body["user"]["phone"], Value::Null);

    let read = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{id}"),
            Some(&token),
            None,
        )
        .await?;
    assert_eq!(read.json::<Value>().await?["user"]["name"], "Ada King");
    Ok(())
}

async fn unknown_or_invalid_fields_are_refused(app: &impl AuthSystem) -> anyhow::Result<()> {
    let id = app.create_user("ada@example.com", vec![]).await?;
    let token = app.token_of("ada@example.com").await?;
    let unknown = patch(app, id, &token, None, json!({"email": "x@example.com"})).await?;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let invalid = patch(app, id, &token, None, json!({"name": ""})).await?;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let body: Value = invalid.json().await?;
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(body["errors"][0]["field"], "name");
    Ok(())
}

async fn a_stale_if_match_is_refused_and_a_current_one_applies(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let id = app.create_user("ada@example.com", vec![]).await?;
    let token = app.token_of("ada@example.com").await?;
    let first = patch(app, id, &token, Some("\"0\""), json!({"name": "Ada B"})).await?;
    assert_eq!(first.status(), StatusCode::OK);
    // A second writer who read version 0 too loses nothing of the first change: refused.
    let stale = patch(app, id, &token, Some("\"0\""), json!({"name": "Ada C"})).await?;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.json::<Value>().await?["code"], "precondition_failed");
    let current = patch(app, id, &token, Some("\"1\""), json!({"name": "Ada C"})).await?;
    assert_eq!(current.status(), StatusCode::OK);
    assert_eq!(current.headers()[header::ETAG], "\"2\"");
    Ok(())
}

async fn only_users_update_may_change_a_status_or_another_user(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let id = app.create_user("ada@example.com", vec![]).await?;
    let other = app.create_user("grace@example.com", vec![]).await?;
    let token = app.token_of("ada@example.com").await?;
    let own_status = patch(app, id, &token, None, json!({"status": "disabled"})).await?;
    assert_eq!(own_status.status(), StatusCode::FORBIDDEN);
    let others_name = patch(app, other, &token, None, json!({"name": "Mallory"})).await?;
    assert_eq!(others_name.status(), StatusCode::FORBIDDEN);
    Ok(())
}

async fn disabling_a_user_ends_their_tokens_at_once(app: &impl AuthSystem) -> anyhow::Result<()> {
    let id = app.create_user("ada@example.com", vec![]).await?;
    let ada = app.token_of("ada@example.com").await?;
    app.create_user("mod@example.com", vec![seeded_role_id(MODERATOR)])
        .await?;
    let moderator = app.token_of("mod@example.com").await?;
    assert_eq!(app.profile(&ada).await?, StatusCode::OK);

    let disabled = patch(app, id, &moderator, None, json!({"status": "disabled"})).await?;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(
        disabled.json::<Value>().await?["user"]["status"],
        "disabled"
    );
    assert_eq!(app.profile(&ada).await?, StatusCode::UNAUTHORIZED);
    let login = app.login("ada@example.com", PASSWORD).await?;
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    assert_eq!(login.json::<Value>().await?["code"], "account_disabled");

    let enabled = patch(app, id, &moderator, None, json!({"status": "active"})).await?;
    assert_eq!(enabled.status(), StatusCode::OK);
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await?.status(),
        StatusCode::OK
    );
    Ok(())
}

on_both_systems!(
    a_user_changes_their_name_and_clears_their_phone,
    unknown_or_invalid_fields_are_refused,
    a_stale_if_match_is_refused_and_a_current_one_applies,
    only_users_update_may_change_a_status_or_another_user,
    disabling_a_user_ends_their_tokens_at_once,
);
