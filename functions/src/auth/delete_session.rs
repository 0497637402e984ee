//! `DELETE /api/v1/auth/sessions/{id}`: ends one of the caller's sessions.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::delete;
use http::StatusCode;
use shared::accounts::Accounts;
use uuid::Uuid;

use crate::auth::guard::{Authenticator, Caller, Endpoint, Policy, route};
use crate::http::ApiError;

pub const ENDPOINT: Endpoint = Endpoint {
    function: "delete_session",
    method: "DELETE",
    path: "/api/v1/auth/sessions/{id}",
    policy: Policy::Authenticated,
};

pub fn router(accounts: Accounts, authenticator: Authenticator) -> Router {
    route(
        &ENDPOINT,
        delete(handle).with_state(accounts),
        Some(authenticator),
    )
}

async fn handle(
    State(accounts): State<Accounts>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    // Someone else's session or a malformed id: equally not found.
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    accounts
        .end_session(&caller.user, &caller.sessions, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
