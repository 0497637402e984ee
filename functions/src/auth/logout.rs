//! `POST /api/v1/auth/logout`: ends this session (or the one of the refresh token sent along).

use axum::extract::State;
use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use shared::accounts::Accounts;

use crate::auth::guard::Caller;
use crate::http::{ApiError, Handler};

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LogoutRequest, example = json!({"refresh_token": "bLdqZZfhSpVR0oKRlY_fq1t9x7w2c8mA"}))]
pub(crate) struct Body {
    #[serde(default)]
    refresh_token: Option<String>,
}

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
}

async fn handle(
    State(accounts): State<Accounts>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    // The body is optional: an empty one ends the access token's own session.
    let body: Body = if body.iter().all(u8::is_ascii_whitespace) {
        Body::default()
    } else {
        crate::http::json::parse(&body)?
    };
    accounts
        .logout(
            caller.user.id,
            caller.session_id,
            body.refresh_token.as_deref(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
