//! `GET /api/v1/users/{id}`: one user, with its version as the `ETag`. The guard lets through
//! the user themself and holders of `users:read`; anyone else gets 403 whether or not the id
//! exists, so only a reader can learn that it does not (404). A user reading themself costs no
//! store call beyond the guard's; anyone else's read costs one more.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::header;
use serde_json::json;
use shared::users::{User, UserRepo};
use uuid::Uuid;

use crate::auth::guard::Caller;
use crate::http::{ApiError, Handler};

pub fn handler(users: UserRepo) -> Handler {
    crate::http::handler(handle, users)
}

async fn handle(
    State(users): State<UserRepo>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = if caller.user.id == id {
        caller.user
    } else {
        users
            .get(id)
            .await
            .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("reading a user")))?
            .ok_or(ApiError::NotFound)?
    };
    Ok(with_etag(&user))
}

/// The user as `{"user": ...}`, its version as a strong entity tag.
pub(crate) fn with_etag(user: &User) -> Response {
    let etag = format!("\"{}\"", user.version);
    let body = axum::Json(json!({ "user": user.public() }));
    ([(header::ETAG, etag)], body).into_response()
}
