//! `POST /api/v1/auth/confirm-reset`: a new password with a reset token; every session ends.

use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shared::accounts::Accounts;
use shared::auth::password::Password;

use crate::auth::errors::field;
use crate::http::{ApiError, Handler, Json};

// No Debug: it holds a password and a token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConfirmResetRequest, example = json!({"token": "oWKKJQ-RYF8xq0L2p6yA1v8B3jZk2w", "new_password": "a brand new passphrase"}))]
pub(crate) struct Body {
    token: String,
    #[schema(schema_with = crate::openapi::schemas::new_password)]
    new_password: String,
}

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
}

async fn handle(
    State(accounts): State<Accounts>,
    Json(body): Json<Body>,
) -> Result<StatusCode, ApiError> {
    let password = field("new_password", Password::parse(body.new_password))?;
    accounts.confirm_reset(&body.token, &password).await?;
    Ok(StatusCode::NO_CONTENT)
}
