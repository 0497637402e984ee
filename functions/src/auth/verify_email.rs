//! `POST /api/v1/auth/verify-email`: uses a verification token from the mail.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::accounts::Accounts;

use crate::http::{ApiError, Handler, Json};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = VerifyEmailRequest, example = json!({"token": "oWKKJQ-RYF8xq0L2p6yA1v8B3jZk2w"}))]
pub(crate) struct Body {
    token: String,
}

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
}

async fn handle(
    State(accounts): State<Accounts>,
    Json(body): Json<Body>,
) -> Result<axum::Json<Value>, ApiError> {
    let user = accounts.verify_email(&body.token).await?;
    Ok(axum::Json(json!({ "user": user.public() })))
}
