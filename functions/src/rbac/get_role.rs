//! `GET /api/v1/roles/{id}`: one role with what it grants, read with the catalog in one query.

use axum::extract::{Path, State};
use serde_json::Value;
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
    views::role_of(&administration.admin.catalog().await?, id)
}
