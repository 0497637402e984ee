//! `GET /api/v1/auth/profile`: the caller, their roles and permissions — all read with the
//! caller by the guard, so this costs no store call of its own.

use serde_json::{Value, json};

use crate::auth::guard::Caller;
use crate::http::{ApiError, Handler};

pub fn handler() -> Handler {
    crate::http::handler(handle, ())
}

async fn handle(caller: Caller) -> Result<axum::Json<Value>, ApiError> {
    let catalog = &caller.catalog;
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
