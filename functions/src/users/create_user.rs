//! `POST /api/v1/users`: an administrator creates an account, under register's rules, verified
//! or not. An unverified account gets its verification mail, a verified one a welcome; the
//! mail's link token never appears in the answer.

use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use shared::accounts::Accounts;

use crate::auth::register::new_account;
use crate::http::{ApiError, Handler, Json};

// No Debug: it holds a password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateUserRequest, example = json!({"email": "grace@example.com", "name": "Grace Hopper", "password": "correct horse battery staple", "email_verified": true}))]
pub(crate) struct Body {
    email: String,
    name: String,
    #[schema(schema_with = crate::openapi::schemas::new_password)]
    password: String,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    email_verified: bool,
}

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
}

async fn handle(
    State(accounts): State<Accounts>,
    Json(body): Json<Body>,
) -> Result<impl IntoResponse, ApiError> {
    let account = new_account(
        body.email,
        body.name,
        body.phone,
        body.password,
        body.email_verified,
    )?;
    let user = accounts.create(account).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "user": user.public() })),
    ))
}
