//! `GET /api/v1/permissions`: every permission, by name. Read whole with the catalog in one
//! query, so the list is one page.

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
    let mut permissions: Vec<_> = catalog.permissions.values().collect();
    permissions.sort_by(|a, b| a.name.cmp(&b.name));
    let items: Vec<Value> = permissions.into_iter().map(views::permission).collect();
    Ok(axum::Json(json!({ "items": items, "next_cursor": null })))
}
