//! `GET /api/v1/users/{id}`: the user themself and readers of users see a user; no one else
//! learns whether an id exists.

use reqwest::{Method, StatusCode, header};
use serde_json::Value;
use shared::rbac::model::seeded_role_id;
use shared::rbac::seed::MODERATOR;
use uuid::Uuid;

use crate::auth::{AuthSystem, on_both_systems};

async fn get(
    app: &impl AuthSystem,
    id: Uuid,
    token: Option<&str>,
) -> anyhow::Result<reqwest::Response> {
    app.call(Method::GET, &format!("/api/v1/users/{id}"), token, None)
        .await
}

async fn a_user_reads_themself_with_their_version_as_the_etag(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let id = app.create_user("ada@example.com", vec![]).await?;
    let token = app.token_of("ada@example.com").await?;
    let response = get(app, id, Some(&token)).await?;
    assert_eq!(response.status(), StatusCode::OK);
    // A new account is at version 0.
    assert_eq!(response.headers()[header::ETAG], "\"0\"");
    let body: Value = response.json().await?;
    assert_eq!(body["user"]["id"], id.to_string());
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert!(body["user"].get("password_hash").is_none(), "{body}");
    assert!(body["user"].get("token_version").is_none(), "{body}");
    Ok(())
}

async fn a_plain_user_learns_nothing_of_another_id(app: &impl AuthSystem) -> anyhow::Result<()> {
    app.create_user("ada@example.com", vec![]).await?;
    let other = app.create_user("grace@example.com", vec![]).await?;
    let token = app.token_of("ada@example.com").await?;
    for id in [other, Uuid::now_v7()] {
        let response = get(app, id, Some(&token)).await?;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{id}");
        assert_eq!(response.json::<Value>().await?["code"], "forbidden");
    }
    assert_eq!(
        get(app, other, None).await?.status(),
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

async fn a_reader_of_users_sees_another_user_or_a_404(app: &impl AuthSystem) -> anyhow::Result<()> {
    let other = app.create_user("grace@example.com", vec![]).await?;
    let moderator = seeded_role_id(MODERATOR);
    app.create_user("mod@example.com", vec![moderator]).await?;
    let token = app.token_of("mod@example.com").await?;

    let response = get(app, other, Some(&token)).await?;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await?;
    assert_eq!(body["user"]["email"], "grace@example.com");

    let missing = get(app, Uuid::now_v7(), Some(&token)).await?;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.json::<Value>().await?["code"], "not_found");
    Ok(())
}

on_both_systems!(
    a_user_reads_themself_with_their_version_as_the_etag,
    a_plain_user_learns_nothing_of_another_id,
    a_reader_of_users_sees_another_user_or_a_404,
);
