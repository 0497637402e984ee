//! `POST /api/v1/auth/refresh`: a refresh token for a new pair; the old token is spent.

use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use shared::accounts::{Accounts, TokenIssuer};

use crate::auth::views::token_pair;
use crate::http::{ApiError, Handler, Json};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RefreshRequest, example = json!({"refresh_token": "bLdqZZfhSpVR0oKRlY_fq1t9x7w2c8mA"}))]
pub(crate) struct Body {
    refresh_token: String,
}

pub fn handler(accounts: Accounts, issuer: TokenIssuer) -> Handler {
    crate::http::handler(handle, (accounts, issuer))
}

async fn handle(
    State((accounts, issuer)): State<(Accounts, TokenIssuer)>,
    Json(body): Json<Body>,
) -> Result<axum::Json<Value>, ApiError> {
    let signed_in = accounts.refresh(&issuer, &body.refresh_token).await?;
    Ok(axum::Json(token_pair(&signed_in)))
}
