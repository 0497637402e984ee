//! `POST /api/v1/auth/logout-all`: ends every session; access tokens already out stop working.

use axum::extract::State;
use http::StatusCode;
use shared::accounts::Accounts;

use crate::auth::guard::Caller;
use crate::http::{ApiError, Handler};

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
}

async fn handle(State(accounts): State<Accounts>, caller: Caller) -> Result<StatusCode, ApiError> {
    accounts.logout_all(&caller.user).await?;
    Ok(StatusCode::NO_CONTENT)
}
