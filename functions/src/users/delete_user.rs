//! `DELETE /api/v1/users/{id}` (users:delete) → 204: the account goes at once, with its
//! address (free for a new registration), roles and sessions; what else is keyed to it follows
//! in the background (the `erase_user` job). The last active administrator cannot be deleted
//! (409 `last_admin`); an unknown id is 404.

use axum::extract::{Path, State};
use http::StatusCode;
use shared::accounts::{AccountError, Accounts};
use shared::users::UserRepo;
use uuid::Uuid;

use crate::http::{ApiError, Handler};

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
}

async fn handle(
    State(accounts): State<Accounts>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let users = UserRepo::new(accounts.store.clone());
    for _ in 0..3 {
        let user = users
            .get(id)
            .await
            .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("reading a user")))?
            .ok_or(ApiError::NotFound)?;
        match accounts.delete_user(&user).await {
            Ok(()) => return Ok(StatusCode::NO_CONTENT),
            // Changed since it was read (or gone): read it again.
            Err(AccountError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(anyhow::anyhow!(
        "user {id} kept changing while it was being deleted"
    )))
}
