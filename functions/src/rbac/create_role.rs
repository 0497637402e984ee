//! `POST /api/v1/roles`: `{name, description?, permission_ids?}` → 201 with the role. The
//! caller may grant only permissions they hold (403 `escalation`); a taken name is 409.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use shared::rbac::RoleName;
use shared::rbac::admin::NewRole;
use uuid::Uuid;

use crate::auth::guard::Caller;
use crate::http::{ApiError, Handler, Json};
use crate::rbac::views::{self, NameAndDescription};
use crate::rbac::{Administration, actor};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateRoleRequest, example = json!({"name": "AUDITOR", "description": "Reads reports", "permission_ids": []}))]
pub(crate) struct Body {
    // Read as optional so a missing name is reported beside every other invalid field, but
    // required all the same: the document says so.
    #[serde(default)]
    #[schema(required = true, value_type = String, pattern = r"^[A-Z][A-Z0-9_]{1,63}$")]
    name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    description: Option<String>,
    #[serde(default)]
    permission_ids: BTreeSet<Uuid>,
}

pub fn handler(administration: Administration) -> Handler {
    crate::http::handler(handle, administration)
}

async fn handle(
    State(administration): State<Administration>,
    caller: Caller,
    Json(body): Json<Body>,
) -> Result<impl IntoResponse, ApiError> {
    let fields = NameAndDescription {
        name: body.name,
        description: body.description,
    };
    let (name, description) = fields.parse_new(RoleName::parse)?;
    let new = NewRole {
        name,
        description,
        permission_ids: body.permission_ids,
    };
    let role = administration
        .admin
        .create_role(actor(&caller), new)
        .await?;
    let catalog = administration.changed().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "role": views::role(&catalog, &role) })),
    ))
}
