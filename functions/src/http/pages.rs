//! What every paged list endpoint shares: its query string parsed into one of our problems,
//! `limit` checked, the cursor key read, and a bad cursor answered with 400 `invalid_cursor`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query};
use http::request::Parts;
use serde::de::DeserializeOwned;
use shared::paging::{CachedCursorKey, CursorKey, ListError};

use crate::http::ApiError;

/// A page's size unless asked otherwise.
pub const DEFAULT_LIMIT: usize = 20;

/// The query string as `T`; anything else (an unknown parameter, say) is 400 `invalid_query`.
#[derive(Debug, Clone)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(params) = Query::<T>::from_request_parts(parts, state).await.map_err(
            |rejection: QueryRejection| ApiError::BadRequest {
                code: "invalid_query",
                detail: rejection.body_text(),
            },
        )?;
        Ok(Self(params))
    }
}

/// The `limit` parameter: [`DEFAULT_LIMIT`] when absent, else a whole number in `1..=max`.
pub fn limit(raw: Option<&str>, max: usize) -> Result<usize, String> {
    match raw {
        None => Ok(DEFAULT_LIMIT.min(max)),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or(format!("must be a whole number from 1 to {max}")),
    }
}

/// The key cursors are sealed with.
pub async fn cursor_key(cursors: &CachedCursorKey) -> Result<&CursorKey, ApiError> {
    cursors
        .get()
        .await
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("reading the cursor key")))
}

impl From<ListError> for ApiError {
    fn from(error: ListError) -> Self {
        match error {
            ListError::InvalidCursor(e) => ApiError::BadRequest {
                code: "invalid_cursor",
                detail: e.to_string(),
            },
            ListError::Store(e) => {
                ApiError::internal(anyhow::Error::new(e).context("reading a page"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_a_whole_number_in_range() {
        assert_eq!(limit(None, 100), Ok(DEFAULT_LIMIT));
        assert_eq!(limit(Some("100"), 100), Ok(100));
        for bad in ["0", "101", "ten", "-1", ""] {
            assert!(limit(Some(bad), 100).is_err(), "{bad}");
        }
    }
}
