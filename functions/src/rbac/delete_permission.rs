//! `DELETE /api/v1/permissions/{id}` → 204, and the permission leaves every role that granted
//! it. Seeded permissions cannot be deleted (409 `seeded`).

use axum::extract::{Path, State};
use http::StatusCode;
use uuid::Uuid;

use crate::http::{ApiError, Handler};
use crate::rbac::Administration;

pub fn handler(administration: Administration) -> Handler {
    crate::http::handler(handle, administration)
}

async fn handle(
    State(administration): State<Administration>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    administration.admin.delete_permission(id).await?;
    administration.cache.invalidate();
    Ok(StatusCode::NO_CONTENT)
}
