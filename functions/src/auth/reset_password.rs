//! `POST /api/v1/auth/reset-password`: mails a reset link; 202 whatever the address.

use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shared::accounts::Accounts;
use shared::users::Email;

use crate::auth::errors::field;
use crate::auth::guard::Client;
use crate::http::{ApiError, Handler, Json};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ResetPasswordRequest, example = json!({"email": "ada@example.com"}))]
pub(crate) struct Body {
    email: String,
}

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
}

async fn handle(
    State(accounts): State<Accounts>,
    Client(client): Client,
    Json(body): Json<Body>,
) -> Result<StatusCode, ApiError> {
    let email = field("email", Email::parse(&body.email))?;
    accounts.request_reset(&email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}
