//! `GET /api/v1/users` (users:list): a page of users, newest first.
//!
//! `?limit=1..100` (20 by default), `status=active|disabled`, `q=` (2 to 64 characters: users
//! whose address starts with it, or whose name has a word starting with it; see
//! [`shared::users::search`]) and `cursor=` (the `next_cursor` of the previous page, only
//! with the same filters). Every page costs a bounded number of store reads, whatever the
//! number of users ([`shared::users::listing`]).

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::paging::CachedCursorKey;
use shared::users::UserRepo;
use shared::users::UserStatus;
use shared::users::listing::{ListRequest, MAX_LIMIT};
use shared::users::search::SearchText;

use crate::auth::errors::invalid;
use crate::http::pages::{self, Params};
use crate::http::{ApiError, Handler};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

pub fn handler(users: UserRepo, cursors: CachedCursorKey) -> Handler {
    crate::http::handler(handle, (users, cursors))
}

async fn handle(
    State((users, cursors)): State<(UserRepo, CachedCursorKey)>,
    Params(params): Params<Query>,
) -> Result<axum::Json<Value>, ApiError> {
    let request = request(params)?;
    let page = users
        .list(pages::cursor_key(&cursors).await?, &request)
        .await?;
    let items: Vec<_> = page.users.iter().map(|u| u.public()).collect();
    Ok(axum::Json(
        json!({ "items": items, "next_cursor": page.next }),
    ))
}

/// The request the parameters ask for, every invalid one named at once.
fn request(params: Query) -> Result<ListRequest, ApiError> {
    let limit = pages::limit(params.limit.as_deref(), MAX_LIMIT);
    let status = match params.status.as_deref() {
        None => Ok(None),
        Some("active") => Ok(Some(UserStatus::Active)),
        Some("disabled") => Ok(Some(UserStatus::Disabled)),
        Some(_) => Err("must be active or disabled".to_owned()),
    };
    let q = params.q.as_deref().map(SearchText::parse).transpose();
    match (limit, status, q) {
        (Ok(limit), Ok(status), Ok(q)) => Ok(ListRequest {
            status,
            q,
            limit,
            cursor: params.cursor,
        }),
        (limit, status, q) => {
            let errors = [
                invalid("limit", limit.err()),
                invalid("status", status.err()),
                invalid("q", q.err()),
            ];
            Err(ApiError::Validation(errors.into_iter().flatten().collect()))
        }
    }
}
