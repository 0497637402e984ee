//! `PATCH /api/v1/permissions/{id}`: `{name?, description?}`. Seeded permissions are checked
//! by name and keep it (409 `seeded`); a taken name is 409 `name_taken`.

use axum::extract::{Path, State};
use serde_json::{Value, json};
use shared::rbac::PermissionName;
use shared::rbac::admin::Changes;
use uuid::Uuid;

use crate::http::{ApiError, Handler, Json};
use crate::rbac::Administration;
use crate::rbac::views::{self, NameAndDescription};

pub fn handler(administration: Administration) -> Handler {
    crate::http::handler(handle, administration)
}

async fn handle(
    State(administration): State<Administration>,
    Path(id): Path<Uuid>,
    Json(body): Json<NameAndDescription>,
) -> Result<axum::Json<Value>, ApiError> {
    let (name, description) = body.parse(PermissionName::parse, false)?;
    let changes = Changes { name, description };
    let permission = administration.admin.update_permission(id, &changes).await?;
    administration.cache.invalidate();
    Ok(axum::Json(
        json!({ "permission": views::permission(&permission) }),
    ))
}
