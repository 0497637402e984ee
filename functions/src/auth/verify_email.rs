//! `POST /api/v1/auth/verify-email`: uses a verification token from the mail.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::accounts::Accounts;

use crate::auth::guard::{Endpoint, Policy, route};
use crate::http::{ApiError, Json};

pub const ENDPOINT: Endpoint = Endpoint {
    function: "verify_email",
    method: "POST",
    path: "/api/v1/auth/verify-email",
    policy: Policy::Public,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    token: String,
}

pub fn router(accounts: Accounts) -> Router {
    route(&ENDPOINT, post(handle).with_state(accounts), None)
}

async fn handle(
    State(accounts): State<Accounts>,
    Json(body): Json<Body>,
) -> Result<axum::Json<Value>, ApiError> {
    let user = accounts.verify_email(&body.token).await?;
    Ok(axum::Json(json!({ "user": user.public() })))
}
