//! `GET /api/v1/auth/permissions`: what the caller may do, and which role grants it.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

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
    let handler = get(handle).with_state(authenticator.clone());
    route(&ENDPOINT, handler, Some(authenticator))
}

async fn handle(
    State(authenticator): State<Authenticator>,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    let catalog = authenticator.catalog().await?;
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
