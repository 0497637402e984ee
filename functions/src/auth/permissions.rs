//! `GET /api/v1/auth/permissions`: what the caller may do, and which role grants it.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use shared::rbac::CachedCatalog;

use crate::auth::guard::{Authenticator, Caller, Endpoint, Policy, route};
use crate::auth::views::all;
use crate::http::ApiError;

pub const ENDPOINT: Endpoint = Endpoint {
    function: "permissions",
    method: "GET",
    path: "/api/v1/auth/permissions",
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
    let items: Vec<Value> = catalog
        .grants(&caller.assignments)
        .into_iter()
        .map(|grant| {
            json!({
                "name": grant.permission.name,
                "resource": grant.permission.name.resource(),
                "action": grant.permission.name.action(),
                "granted_by": grant.role.name,
            })
        })
        .collect();
    Ok(axum::Json(all(items)))
}
