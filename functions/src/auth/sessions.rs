//! `GET /api/v1/auth/sessions`: the caller's live sessions, the current one marked.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use shared::accounts::Accounts;

use crate::auth::guard::{Authenticator, Caller, Endpoint, Policy, route};
use crate::auth::views::all;
use crate::http::ApiError;

pub const ENDPOINT: Endpoint = Endpoint {
    function: "sessions",
    method: "GET",
    path: "/api/v1/auth/sessions",
    policy: Policy::Authenticated,
};

pub fn router(accounts: Accounts, authenticator: Authenticator) -> Router {
    route(
        &ENDPOINT,
        get(handle).with_state(accounts),
        Some(authenticator),
    )
}

async fn handle(
    State(accounts): State<Accounts>,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    let sessions = accounts.sessions(&caller.user).await?;
    let items: Vec<Value> = sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "created_at": s.created_at,
                "last_used_at": s.last_used_at,
                "expires_at": s.expires_at,
                "ip": s.ip,
                "user_agent": s.user_agent,
                "current": s.id == caller.session_id,
            })
        })
        .collect();
    Ok(axum::Json(all(items)))
}
