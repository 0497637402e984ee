//! `POST /api/v1/auth/refresh`: a refresh token for a new pair; the old token is spent.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde::Deserialize;
use serde_json::Value;
use shared::accounts::{Accounts, TokenIssuer};

use crate::auth::guard::{Endpoint, Policy, route};
use crate::auth::views::token_pair;
use crate::http::{ApiError, Json};

pub const ENDPOINT: Endpoint = Endpoint {
    function: "refresh",
    method: "POST",
    path: "/api/v1/auth/refresh",
    policy: Policy::Public,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    refresh_token: String,
}

pub fn router(accounts: Accounts, issuer: TokenIssuer) -> Router {
    route(&ENDPOINT, post(handle).with_state((accounts, issuer)), None)
}

async fn handle(
    State((accounts, issuer)): State<(Accounts, TokenIssuer)>,
    Json(body): Json<Body>,
) -> Result<axum::Json<Value>, ApiError> {
    let signed_in = accounts.refresh(&issuer, &body.refresh_token).await?;
    Ok(axum::Json(token_pair(&signed_in)))
}
