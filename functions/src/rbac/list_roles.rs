//! `GET /api/v1/roles`: every role, by name, each with what it grants. The catalog is small
//! and read whole in one query, so the list is one page.

use axum::extract::State;
use serde_json::{Value, json};

use crate::http::{ApiError, Handler};
use crate::rbac::{Administration, views};

pub fn handler(administration: Administration) -> Handler {
    crate::http::handler(handle, administration)
}

async fn handle(
    State(administration): State<Administration>,
) -> Result<axum::Json<Value>, ApiError> {
    let catalog = administration.admin.catalog().await?;
    let mut roles: Vec<_> = catalog.roles.values().collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    let items: Vec<Value> = roles.iter().map(|r| views::role(&catalog, r)).collect();
    Ok(axum::Json(json!({ "items": items, "next_cursor": null })))
}
