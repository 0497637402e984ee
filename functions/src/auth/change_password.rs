//! `PUT /api/v1/auth/change-password`: the current password for a new one; other sessions end.

use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use shared::accounts::Accounts;
use shared::auth::password::Password;

use crate::auth::errors::field;
use crate::auth::guard::{Caller, Client};
use crate::http::{ApiError, Handler, Json};

// No Debug: it holds passwords.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChangePasswordRequest, example = json!({"current_password": "correct horse battery staple", "new_password": "a brand new passphrase"}))]
pub(crate) struct Body {
    current_password: String,
    #[schema(schema_with = crate::openapi::schemas::new_password)]
    new_password: String,
}

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
}

async fn handle(
    State(accounts): State<Accounts>,
    caller: Caller,
    Client(client): Client,
    Json(body): Json<Body>,
) -> Result<StatusCode, ApiError> {
    let password = field("new_password", Password::parse(body.new_password))?;
    accounts
        .change_password(
            &caller.user,
            caller.session_id,
            &body.current_password,
            &password,
            &client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
