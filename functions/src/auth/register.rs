//! `POST /api/v1/auth/register`: a new, unverified account; the verification mail follows.

use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use shared::accounts::Accounts;
use shared::accounts::register::NewAccount;
use shared::auth::password::Password;
use shared::users::{Email, Name, Phone};

use crate::auth::errors::invalid;
use crate::auth::guard::Client;
use crate::http::{ApiError, Handler, Json};
use crate::telemetry::metrics;

// No Debug: it holds a password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RegisterRequest, example = json!({"email": "ada@example.com", "name": "Ada Lovelace", "password": "correct horse battery staple"}))]
pub(crate) struct Body {
    email: String,
    name: String,
    #[schema(schema_with = crate::openapi::schemas::new_password)]
    password: String,
    #[serde(default)]
    phone: Option<String>,
}

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
}

async fn handle(
    State(accounts): State<Accounts>,
    Client(client): Client,
    Json(body): Json<Body>,
) -> Result<impl IntoResponse, ApiError> {
    let account = new_account(body.email, body.name, body.phone, body.password, false)?;
    let user = accounts.register(account, &client).await?;
    metrics::registration();
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "user": user.public() })),
    ))
}

/// The account the fields describe, every invalid field named at once so a client fixes them
/// in one go. Register and the administrators' `POST /users` share the rules.
pub(crate) fn new_account(
    email: String,
    name: String,
    phone: Option<String>,
    password: String,
    verified: bool,
) -> Result<NewAccount, ApiError> {
    let parsed = (
        Email::parse(&email),
        Name::parse(&name),
        phone.as_deref().map(Phone::parse).transpose(),
        Password::parse(password),
    );
    match parsed {
        (Ok(email), Ok(name), Ok(phone), Ok(password)) => Ok(NewAccount {
            email,
            name,
            phone,
            password,
            verified,
            extra_roles: Vec::new(),
        }),
        (email, name, phone, password) => {
            let errors = [
                invalid("email", email.err()),
                invalid("name", name.err()),
                invalid("phone", phone.err()),
                invalid("password", password.err()),
            ];
            Err(ApiError::Validation(errors.into_iter().flatten().collect()))
        }
    }
}
