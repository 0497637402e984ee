//! `POST /api/v1/auth/login`: email and password for an access and a refresh token.

use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use shared::accounts::{AccountError, Accounts, TokenIssuer};

use crate::auth::guard::Client;
use crate::auth::views::token_pair;
use crate::http::{ApiError, Handler, Json};
use crate::telemetry::metrics;

// No Debug: it holds a password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LoginRequest, example = json!({"email": "ada@example.com", "password": "correct horse battery staple"}))]
pub(crate) struct Body {
    email: String,
    password: String,
}

pub fn handler(accounts: Accounts, issuer: TokenIssuer) -> Handler {
    crate::http::handler(handle, (accounts, issuer))
}

async fn handle(
    State((accounts, issuer)): State<(Accounts, TokenIssuer)>,
    Client(client): Client,
    Json(body): Json<Body>,
) -> Result<axum::Json<Value>, ApiError> {
    let login = accounts
        .login(&issuer, &body.email, &body.password, &client)
        .await;
    metrics::login(match &login {
        Ok(_) => "ok",
        Err(AccountError::RateLimited { .. }) => "throttled",
        Err(_) => "failed",
    });
    Ok(axum::Json(token_pair(&login?)))
}
