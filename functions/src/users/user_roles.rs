//! `GET /api/v1/users/{id}/roles`: the roles a user holds, each with when it runs out. The user
//! themself and holders of `users:read` may ask; a user asking about themself costs no store
//! call beyond the guard's, which read their roles with them.

use axum::extract::{Path, State};
use serde_json::{Value, json};
use shared::rbac::Assignment;
use shared::users::UserRepo;
use uuid::Uuid;

use crate::auth::guard::Caller;
use crate::http::{ApiError, Handler};

pub fn handler(users: UserRepo) -> Handler {
    crate::http::handler(handle, users)
}

async fn handle(
    State(users): State<UserRepo>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Value>, ApiError> {
    let catalog = caller.catalog;
    let assignments = if caller.user.id == id {
        caller.assignments
    } else {
        users
            .with_roles(id)
            .await
            .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("reading a user")))?
            .ok_or(ApiError::NotFound)?
            .assignments
    };
    let items: Vec<Value> = assignments
        .iter()
        .filter_map(|a: &Assignment| {
            catalog.role(a.role_id).map(|role| {
                json!({ "id": role.id, "name": role.name, "granted_at": a.granted_at, "expires_at": a.expires_at })
            })
        })
        .collect();
    Ok(axum::Json(json!({ "items": items, "next_cursor": null })))
}
