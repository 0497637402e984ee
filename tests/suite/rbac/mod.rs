//! Role and permission administration over real HTTP, each case run on the local system and
//! on the AWS adapters on the emulator: the catalog's CRUD and name rules, assignments with
//! their expiry and escalation rules, and the last administrator.

mod assignments;
mod catalog;
mod last_admin;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared::rbac::model::seeded_role_id;
use shared::rbac::seed::ADMIN;
use uuid::Uuid;

use crate::auth::AuthSystem;

/// Calls the API; the status and the JSON body (`null` when there is none).
pub async fn send(
    app: &impl AuthSystem,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<(StatusCode, Value)> {
    let response = app.call(method, path, Some(token), body).await?;
    let status = response.status();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)?
    };
    Ok((status, body))
}

/// A new administrator; their id and token.
pub async fn admin(app: &impl AuthSystem, email: &str) -> anyhow::Result<(Uuid, String)> {
    let id = app.create_user(email, vec![seeded_role_id(ADMIN)]).await?;
    Ok((id, app.token_of(email).await?))
}

/// The names of the permissions a token's holder has now.
pub async fn permissions_of(app: &impl AuthSystem, token: &str) -> anyhow::Result<Vec<String>> {
    let (status, body) = send(app, Method::GET, "/api/v1/auth/permissions", token, None).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut names: Vec<String> = body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.dedup();
    Ok(names)
}
