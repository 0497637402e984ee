//! `POST /api/v1/auth/login`: email and password for an access and a refresh token.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde::Deserialize;
use serde_json::Value;
use shared::accounts::{Accounts, TokenIssuer};

use crate::auth::guard::{Client, Endpoint, Policy, route};
use crate::auth::views::token_pair;
use crate::http::{ApiError, Json};

pub const ENDPOINT: Endpoint = Endpoint {
    function: "login",
    method: "POST",
    path: "/api/v1/auth/login",
    policy: Policy::Public,
};

// No Debug: it holds a password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    email: String,
    password: String,
}

pub fn router(accounts: Accounts, issuer: TokenIssuer) -> Router {
    route(&ENDPOINT, post(handle).with_state((accounts, issuer)), None)
}

async fn handle(
    State((accounts, issuer)): State<(Accounts, TokenIssuer)>,
    Client(client): Client,
    Json(body): Json<Body>,
) -> Result<axum::Json<Value>, ApiError> {
    let signed_in = accounts
        .login(&issuer, &body.email, &body.password, &client)
        .await?;
    Ok(axum::Json(token_pair(&signed_in)))
}
