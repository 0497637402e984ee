//! `GET /api/v1/auth/permissions`: what the caller may do, and which role grants it.

use serde_json::{Value, json};

use crate::auth::guard::Caller;
use crate::auth::views::all;
use crate::http::{ApiError, Handler};

pub fn handler() -> Handler {
    crate::http::handler(handle, ())
}

async fn handle(caller: Caller) -> Result<axum::Json<Value>, ApiError> {
    let catalog = &caller.catalog;
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
