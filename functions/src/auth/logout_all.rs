//! `POST /api/v1/auth/logout-all`: ends every session; access tokens already out stop working.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use http::StatusCode;
use shared::accounts::Accounts;

use crate::auth::guard::{Authenticator, Caller, Endpoint, Policy, route};
use crate::http::ApiError;

pub const ENDPOINT: Endpoint = Endpoint {
    function: "logout_all",
    method: "POST",
    path: "/api/v1/auth/logout-all",
    policy: Policy::Authenticated,
};

pub fn router(accounts: Accounts, authenticator: Authenticator) -> Router {
    route(
        &ENDPOINT,
        post(handle).with_state(accounts),
        Some(authenticator),
    )
}

async fn handle(State(accounts): State<Accounts>, caller: Caller) -> Result<StatusCode, ApiError> {
    accounts.logout_all(&caller.user).await?;
    Ok(StatusCode::NO_CONTENT)
}
