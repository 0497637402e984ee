//! `PATCH /api/v1/roles/{id}`: `{name?, description?}`. Seeded roles keep their names (409
//! `seeded`); a taken name is 409 `name_taken`. What a role grants changes through
//! [`super::set_role_permissions`].

use axum::extract::{Path, State};
use serde_json::Value;
use shared::rbac::RoleName;
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
    let (name, description) = body.parse(RoleName::parse, false)?;
    let changes = Changes { name, description };
    administration.admin.update_role(id, &changes).await?;
    views::role_of(&administration.changed().await?, id)
}
