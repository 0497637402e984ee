//! `GET /api/v1/auth/profile`: the caller, their roles and permissions — all read with the
//! caller by the guard, so this costs no store call of its own.

use std::collections::BTreeSet;

use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::rbac::names::RoleName;
use shared::users::PublicUser;
use uuid::Uuid;

use crate::auth::guard::Caller;
use crate::http::Handler;

pub fn handler() -> Handler {
    crate::http::handler(handle, ())
}

/// The answer, serialised as it is written: every authenticated client reads it, often.
#[derive(Serialize)]
struct Profile<'a> {
    user: PublicUser,
    roles: Vec<Role<'a>>,
    permissions: &'a BTreeSet<String>,
}

#[derive(Serialize)]
struct Role<'a> {
    id: Uuid,
    name: &'a RoleName,
    expires_at: Option<DateTime<Utc>>,
}

async fn handle(caller: Caller) -> Response {
    let catalog = &caller.catalog;
    let roles = caller
        .assignments
        .iter()
        .filter_map(|a| {
            catalog.role(a.role_id).map(|role| Role {
                id: role.id,
                name: &role.name,
                expires_at: a.expires_at,
            })
        })
        .collect();
    let profile = Profile {
        user: caller.user.public(),
        roles,
        permissions: &caller.permissions,
    };
    axum::Json(profile).into_response()
}
