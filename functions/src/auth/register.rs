//! `POST /api/v1/auth/register`: a new, unverified account; the verification mail follows.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use shared::accounts::Accounts;
use shared::accounts::register::NewAccount;
use shared::auth::password::Password;
use shared::users::{Email, Name, Phone};

use crate::auth::errors::Fields;
use crate::auth::guard::{Client, Endpoint, Policy, route};
use crate::http::{ApiError, Json};

pub const ENDPOINT: Endpoint = Endpoint {
    function: "register",
    method: "POST",
    path: "/api/v1/auth/register",
    policy: Policy::Public,
};

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

pub fn router(accounts: Accounts) -> Router {
    route(&ENDPOINT, post(handle).with_state(accounts), None)
}

async fn handle(
    State(accounts): State<Accounts>,
    Client(client): Client,
    Json(body): Json<Body>,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::default();
    let email = fields.check("email", Email::parse(&body.email));
    let name = fields.check("name", Name::parse(&body.name));
    let phone = match body.phone.as_deref() {
        Some(raw) => fields.check("phone", Phone::parse(raw)).map(Some),
        None => Some(None),
    };
    let password = fields.check("password", Password::parse(body.password));
    fields.finish()?;
    let (Some(email), Some(name), Some(phone), Some(password)) = (email, name, phone, password)
    else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "a field failed without an error"
        )));
    };
    let account = NewAccount {
        email,
        name,
        phone,
        password,
        verified: false,
        extra_roles: Vec::new(),
    };
    let user = accounts.register(account, &client).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "user": user.public() })),
    ))
}
