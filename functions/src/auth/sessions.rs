//! `GET /api/v1/auth/sessions`: the caller's live sessions, the current one marked. They were
//! read with the caller, so this costs no store call of its own.

use serde_json::{Value, json};
use shared::accounts::logout::live;
use shared::auth::session::Session;

use crate::auth::guard::Caller;
use crate::auth::views::all;
use crate::http::Handler;

pub fn handler() -> Handler {
    crate::http::handler(handle, ())
}

async fn handle(caller: Caller) -> axum::Json<Value> {
    let mut sessions: Vec<&Session> = live(&caller.user, &caller.sessions).collect();
    sessions.sort_by_key(|s| s.created_at);
    let items: Vec<Value> = sessions
        .into_iter()
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
    axum::Json(all(items))
}
