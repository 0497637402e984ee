//! `POST /api/v1/users`: administrators create accounts under register's rules.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::rbac::model::seeded_role_id;
use shared::rbac::seed::ADMIN;

use crate::auth::{AuthSystem, PASSWORD, on_both_systems};

async fn create(
    app: &impl AuthSystem,
    token: &str,
    body: Value,
) -> anyhow::Result<reqwest::Response> {
    app.call(Method::POST, "/api/v1/users", Some(token), Some(body))
        .await
}

async fn an_administrator_creates_a_verified_account_that_logs_in_at_once(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    app.create_user("root@example.com", vec![seeded_role_id(ADMIN)])
        .await?;
    let root = app.token_of("root@example.com").await?;
    let body = json!({"email": " Grace@Example.com ", "name": "Grace", "password": PASSWORD, "email_verified": true});
    let created = create(app, &root, body).await?;
    assert_eq!(created.status(), StatusCode::CREATED);
    let user: Value = created.json().await?;
    assert_eq!(user["user"]["email"], "grace@example.com");
    assert_eq!(user["user"]["email_verified"], true);
    assert!(user["user"].get("password_hash").is_none(), "{user}");
    assert_eq!(
        app.login("grace@example.com", PASSWORD).await?.status(),
        StatusCode::OK
    );

    let again = json!({"email": "grace@example.com", "name": "G", "password": PASSWORD});
    let taken = create(app, &root, again).await?;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    assert_eq!(taken.json::<Value>().await?["code"], "email_taken");
    Ok(())
}

async fn an_unverified_account_gets_its_verification_mail_and_the_answer_no_token(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    app.create_user("root@example.com", vec![seeded_role_id(ADMIN)])
        .await?;
    let root = app.token_of("root@example.com").await?;
    let body = json!({"email": "lin@example.com", "name": "Lin", "password": PASSWORD});
    let created = create(app, &root, body).await?;
    assert_eq!(created.status(), StatusCode::CREATED);
    let answer = created.text().await?;
    let token = app
        .mailed_token("lin@example.com", "verify-email", 0)
        .await?;
    assert!(!answer.contains(&token), "{answer}");
    Ok(())
}

async fn the_rules_of_register_hold_and_only_users_create_may_create(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    app.create_user("root@example.com", vec![seeded_role_id(ADMIN)])
        .await?;
    app.create_user("ada@example.com", vec![]).await?;
    let root = app.token_of("root@example.com").await?;
    let ada = app.token_of("ada@example.com").await?;

    let bad = json!({"email": "not an address", "name": "", "password": "short"});
    let refused = create(app, &root, bad).await?;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await?;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "name", "password"]);

    let body = json!({"email": "eve@example.com", "name": "Eve", "password": PASSWORD});
    let forbidden = create(app, &ada, body).await?;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    Ok(())
}

on_both_systems!(
    an_administrator_creates_a_verified_account_that_logs_in_at_once,
    an_unverified_account_gets_its_verification_mail_and_the_answer_no_token,
    the_rules_of_register_hold_and_only_users_create_may_create,
);
