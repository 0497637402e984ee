//! `GET /api/v1/users/{id}/roles`: the user themself and readers of users see a user's roles.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared::rbac::model::seeded_role_id;
use shared::rbac::seed::MODERATOR;
use uuid::Uuid;

use crate::auth::{AuthSystem, on_both_systems};

async fn roles(
    app: &impl AuthSystem,
    id: Uuid,
    token: &str,
) -> anyhow::Result<(StatusCode, Value)> {
    let path = format!("/api/v1/users/{id}/roles");
    let response = app.call(Method::GET, &path, Some(token), None).await?;
    Ok((response.status(), response.json().await?))
}

fn names(body: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    names
}

async fn a_user_and_a_reader_of_users_see_a_users_roles(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let ada = app.create_user("ada@example.com", vec![]).await?;
    let moderator = app
        .create_user("mod@example.com", vec![seeded_role_id(MODERATOR)])
        .await?;
    let ada_token = app.token_of("ada@example.com").await?;
    let mod_token = app.token_of("mod@example.com").await?;

    let (status, own) = roles(app, ada, &ada_token).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&own), ["USER"]);
    let (status, others) = roles(app, moderator, &mod_token).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&others), ["MODERATOR", "USER"]);
    let (status, read) = roles(app, ada, &mod_token).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&read), ["USER"]);

    assert_eq!(
        roles(app, moderator, &ada_token).await?.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        roles(app, Uuid::now_v7(), &mod_token).await?.0,
        StatusCode::NOT_FOUND
    );
    Ok(())
}

on_both_systems!(a_user_and_a_reader_of_users_see_a_users_roles);
