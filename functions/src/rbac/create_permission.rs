//! `POST /api/v1/permissions`: `{name, description?}` → 201 with the permission; a taken name
//! is 409. A new permission is granted by no role but ADMIN until a role is given it.

use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use serde_json::json;
use shared::rbac::PermissionName;
use shared::rbac::admin::NewPermission;

use crate::http::{ApiError, Handler, Json};
use crate::rbac::Administration;
use crate::rbac::views::{self, NameAndDescription};

pub fn handler(administration: Administration) -> Handler {
    crate::http::handler(handle, administration)
}

async fn handle(
    State(administration): State<Administration>,
    Json(body): Json<NameAndDescription>,
) -> Result<impl IntoResponse, ApiError> {
    let (name, description) = body.parse_new(PermissionName::parse)?;
    let new = NewPermission { name, description };
    let permission = administration.admin.create_permission(new).await?;
    administration.cache.invalidate();
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "permission": views::permission(&permission) })),
    ))
}
