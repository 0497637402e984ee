//! What answers when no handler does, and the last check that every error leaving the API is a
//! problem document carrying its request id.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use serde_json::{Map, Value};

use crate::http::problem::{ApiError, INTERNAL_DETAIL, PROBLEM_JSON, Problem};
use crate::http::request_id::RequestId;

/// The largest error body read back to be rewritten; ours are a few hundred bytes.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Stamps the request id into every problem, and turns any other error response (an axum
/// rejection in plain text, an empty 404 from a nested service) into a problem.
pub(crate) async fn problems(req: Request, next: Next) -> Response {
    let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let is_problem = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct == PROBLEM_JSON);
    let bytes = Limited::new(body, MAX_ERROR_BODY)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    // Parsed as a map, so extension members this layer does not know about survive.
    let parsed = is_problem
        .then(|| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .flatten();
    let mut problem = match parsed {
        Some(problem) => problem,
        None => match serde_json::to_value(stand_in(status, &bytes)) {
            Ok(Value::Object(problem)) => problem,
            _ => Map::new(),
        },
    };
    if let Some(id) = request_id {
        problem.insert("request_id".to_owned(), Value::String(id));
    }
    let Ok(body) = serde_json::to_vec(&problem) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    Response::from_parts(parts, Body::from(body))
}

/// The problem for an error response that did not come from an [`ApiError`].
fn stand_in(status: StatusCode, body: &[u8]) -> Problem {
    if status.is_server_error() {
        tracing::error!(
            status = status.as_u16(),
            "an error response without a problem body"
        );
        return Problem::new(status, "internal", INTERNAL_DETAIL);
    }
    let code = match status {
        StatusCode::TOO_MANY_REQUESTS => "rate_limited".to_owned(),
        other => other
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
            .replace(' ', "_"),
    };
    // Rejections below the handlers explain themselves in plain text, meant for the client.
    let text = String::from_utf8_lossy(body);
    let detail = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_owned(),
        text => text.to_owned(),
    };
    Problem::new(status, code, detail)
}
