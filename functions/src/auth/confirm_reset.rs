//! `POST /api/v1/auth/confirm-reset`: a new password with a reset token; every session ends.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use http::StatusCode;
use serde::Deserialize;
use shared::accounts::Accounts;
use shared::auth::password::Password;

use crate::auth::errors::field;
use crate::auth::guard::{Endpoint, Policy, route};
use crate::http::{ApiError, Json};

pub const ENDPOINT: Endpoint = Endpoint {
    function: "confirm_reset",
    method: "POST",
    path: "/api/v1/auth/confirm-reset",
    policy: Policy::Public,
};

// No Debug: it holds a password and a token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    token: String,
    new_password: String,
}

pub fn router(accounts: Accounts) -> Router {
    route(&ENDPOINT, post(handle).with_state(accounts), None)
}

async fn handle(
    State(accounts): State<Accounts>,
    Json(body): Json<Body>,
) -> Result<StatusCode, ApiError> {
    let password = field("new_password", Password::parse(body.new_password))?;
    accounts.confirm_reset(&body.token, &password).await?;
    Ok(StatusCode::NO_CONTENT)
}
