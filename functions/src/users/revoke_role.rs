//! `DELETE /api/v1/users/{id}/roles/{role_id}` → 204: the user no longer holds the role, from
//! their next request on (204 too when they did not hold it). The caller must be allowed to
//! assign the role (403 `escalation`); the last active administrator keeps ADMIN (409
//! `last_admin`).

use axum::extract::{Path, State};
use http::StatusCode;
use uuid::Uuid;

use crate::auth::guard::Caller;
use crate::http::{ApiError, Handler};
use crate::rbac::{Administration, actor};

pub fn handler(administration: Administration) -> Handler {
    crate::http::handler(handle, administration)
}

async fn handle(
    State(administration): State<Administration>,
    caller: Caller,
    Path((id, role_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    administration
        .admin
        .revoke(actor(&caller), id, role_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
