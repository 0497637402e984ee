//! `POST /api/v1/auth/resend-verification`: 202 whatever the address, so it reveals nothing.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use http::StatusCode;
use serde::Deserialize;
use shared::accounts::Accounts;
use shared::users::Email;

use crate::auth::errors::field;
use crate::auth::guard::{Client, Endpoint, Policy, route};
use crate::http::{ApiError, Json};

pub const ENDPOINT: Endpoint = Endpoint {
    function: "resend_verification",
    method: "POST",
    path: "/api/v1/auth/resend-verification",
    policy: Policy::Public,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    email: String,
}

pub fn router(accounts: Accounts) -> Router {
    route(&ENDPOINT, post(handle).with_state(accounts), None)
}

async fn handle(
    State(accounts): State<Accounts>,
    Client(client): Client,
    Json(body): Json<Body>,
) -> Result<StatusCode, ApiError> {
    let email = field("email", Email::parse(&body.email))?;
    accounts.resend_verification(&email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}
