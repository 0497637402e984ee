//! The request body limit: API bodies over [`MAX_BODY_BYTES`] are refused with 413.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header;
use http_body_util::Limited;

use crate::http::problem::ApiError;

/// The largest request body any route accepts: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Refuses a declared oversized body before any handler runs, and caps undeclared (chunked)
/// ones so that reading past the limit fails with 413 in the extractor.
pub(crate) async fn limit_body(State(max): State<usize>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return ApiError::PayloadTooLarge.into_response();
    }
    next.run(req.map(|body| Body::new(Limited::new(body, max))))
        .await
}
