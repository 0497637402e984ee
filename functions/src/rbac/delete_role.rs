//! `DELETE /api/v1/roles/{id}` → 204. Seeded roles cannot be deleted (409 `seeded`); the
//! users who held the role hold nothing through it from the next request on.

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
    administration.admin.delete_role(id).await?;
    administration.cache.invalidate();
    Ok(StatusCode::NO_CONTENT)
}
