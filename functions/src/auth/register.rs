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

// No Debug: it holds a password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    email: String,
    name: String,
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
    let parsed = (
        Email::parse(&body.email),
        Name::parse(&body.name),
        body.phone.as_deref().map(Phone::parse).transpose(),
        Password::parse(body.password),
    );
    let account = match parsed {
        (Ok(email), Ok(name), Ok(phone), Ok(password)) => NewAccount {
            email,
            name,
            phone,
            password,
            verified: false,
            extra_roles: Vec::new(),
        },
        // Every invalid field at once, so a client fixes them in one go.
        (email, name, phone, password) => {
            let errors = [
                invalid("email", email.err()),
                invalid("name", name.err()),
                invalid("phone", phone.err()),
                invalid("password", password.err()),
            ];
            return Err(ApiError::Validation(errors.into_iter().flatten().collect()));
        }
    };
    let user = accounts.register(account, &client).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "user": user.public() })),
    ))
}
