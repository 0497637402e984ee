//! `GET /api/v1/auth/profile`: the caller, their roles and permissions — all read with the
//! caller by the guard, so this costs no store call of its own.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::auth::guard::{Authenticator, Caller, Endpoint, Policy, route};
use crate::http::ApiError;

pub const ENDPOINT: Endpoint = Endpoint {
    function: "profile",
    method: "GET",
    path: "/api/v1/auth/profile",
    policy: Policy::Authenticated,
};

pub fn router(authenticator: Authenticator) -> Router {
    let handler = get(handle).with_state(authenticator.clone());
    route(&ENDPOINT, handler, Some(authenticator))
}

async fn handle(
    State(authenticator): State<Authenticator>,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    let catalog = authenticator.catalog().await?;
    let roles: Vec<Value> = caller
        .assignments
        .iter()
        .filter_map(|a| {
            catalog
                .role(a.role_id)
                .map(|role| json!({ "id": role.id, "name": role.name, "expires_at": a.expires_at }))
        })
        .collect();
    Ok(axum::Json(json!({
        "user": caller.user.public(),
        "roles": roles,
        "permissions": caller.permissions,
    })))
}
