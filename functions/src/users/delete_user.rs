//! `DELETE /api/v1/users/{id}` (users:delete) → 204: the account goes at once, with its
//! address (free for a new registration), roles and sessions; what else is keyed to it follows
//! in the background (the `erase_user` job). The last active administrator cannot be deleted
//! (409 `last_admin`); an unknown id is 404.

use axum::extract::{Path, State};
use http::StatusCode;
use shared::accounts::Accounts;
use uuid::Uuid;

use crate::http::{ApiError, Handler};

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
}

async fn handle(
    State(accounts): State<Accounts>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    accounts.delete_account(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
