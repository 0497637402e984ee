//! `GET /api/v1/auth/profile`: the caller, their roles and permissions — all read with the
//! caller by the guard, so this costs no store call of its own.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use shared::rbac::CachedCatalog;

use crate::auth::guard::{Authenticator, Caller, Endpoint, Policy, route};
use crate::http::ApiError;

pub const ENDPOINT: Endpoint = Endpoint {
    function: "profile",
    method: "GET",
    path: "/api/v1/auth/profile",
    policy: Policy::Authenticated,
};

pub fn router(authenticator: Authenticator) -> Router {
    let catalog = authenticator.catalog.clone();
    route(
        &ENDPOINT,
        get(move |caller: Caller| handle(catalog, caller)),
        Some(authenticator),
    )
}

async fn handle(catalog: CachedCatalog, caller: Caller) -> Result<axum::Json<Value>, ApiError> {
    let catalog = catalog.get().await.map_err(|e| {
        ApiError::internal(anyhow::Error::new(e).context("reading the role catalog"))
    })?;
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
