//! `DELETE /api/v1/auth/sessions/{id}`: ends one of the caller's sessions.

use axum::extract::{Path, State};
use http::StatusCode;
use shared::accounts::Accounts;
use uuid::Uuid;

use crate::auth::guard::Caller;
use crate::http::{ApiError, Handler};

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
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
