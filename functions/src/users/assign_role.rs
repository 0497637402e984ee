//! `POST /api/v1/users/{id}/roles`: `{role_id, expires_at?}` → 201 with the assignment. The
//! caller may assign only a role whose every permission they hold, and ADMIN only as an
//! administrator (403 `escalation`); an unknown role is 400, an unknown user 404. The user
//! holds the role from their next request on, until `expires_at` when given.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::guard::Caller;
use crate::http::{ApiError, Handler, Json};
use crate::rbac::{Administration, actor};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AssignRoleRequest, example = json!({"role_id": "01936f0e-2a7b-7c3d-9e4f-5a6b7c8d9e0f", "expires_at": "2027-01-01T00:00:00Z"}))]
pub(crate) struct Body {
    role_id: Uuid,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

pub fn handler(administration: Administration) -> Handler {
    crate::http::handler(handle, administration)
}

async fn handle(
    State(administration): State<Administration>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<Body>,
) -> Result<impl IntoResponse, ApiError> {
    let assignment = administration
        .admin
        .assign(actor(&caller), id, body.role_id, body.expires_at)
        .await?;
    let catalog = administration.cache.get().await.map_err(|e| {
        ApiError::internal(anyhow::Error::new(e).context("reading the role catalog"))
    })?;
    let name = catalog.role(assignment.role_id).map(|r| r.name.to_string());
    let body = json!({
        "assignment": {
            "id": assignment.role_id,
            "name": name,
            "granted_at": assignment.granted_at,
            "expires_at": assignment.expires_at,
        }
    });
    Ok((StatusCode::CREATED, axum::Json(body)))
}
