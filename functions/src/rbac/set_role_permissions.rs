//! `PUT /api/v1/roles/{id}/permissions`: `{permission_ids: [...]}` replaces what the role
//! grants. The caller must hold every permission of the new set (403 `escalation`); an unknown
//! id is 400; ADMIN grants everything and has no set to replace (409 `grants_all`).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::guard::Caller;
use crate::http::{ApiError, Handler, Json};
use crate::rbac::{Administration, actor, views};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SetRolePermissionsRequest, example = json!({"permission_ids": ["01936f0e-2a7b-7c3d-9e4f-5a6b7c8d9e0f"]}))]
pub(crate) struct Body {
    permission_ids: BTreeSet<Uuid>,
}

pub fn handler(administration: Administration) -> Handler {
    crate::http::handler(handle, administration)
}

async fn handle(
    State(administration): State<Administration>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<Body>,
) -> Result<axum::Json<Value>, ApiError> {
    administration
        .admin
        .set_role_permissions(actor(&caller), id, body.permission_ids)
        .await?;
    views::role_of(&administration.changed().await?, id)
}
