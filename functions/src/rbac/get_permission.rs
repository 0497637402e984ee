//! `GET /api/v1/permissions/{id}`: one permission.

use axum::extract::{Path, State};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::{ApiError, Handler};
use crate::rbac::{Administration, views};

pub fn handler(administration: Administration) -> Handler {
    crate::http::handler(handle, administration)
}

async fn handle(
    State(administration): State<Administration>,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Value>, ApiError> {
    let permission = administration.admin.permission(id).await?;
    Ok(axum::Json(
        json!({ "permission": views::permission(&permission) }),
    ))
}
