//! The one error type of the HTTP API and its RFC 9457 `application/problem+json` form.
//!
//! Every variant documents the status it answers with. Client errors explain themselves in
//! `detail`; a 500 says nothing about its cause to the client and logs the whole chain instead.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// All a client learns about a 5xx.
pub(crate) const INTERNAL_DETAIL: &str = "the server could not complete the request";

/// One invalid input field, as listed under `errors` of a `validation_failed` problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `validation_failed`: the body is well-formed JSON but some fields are invalid.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// 400 `malformed_json`: the body is not JSON at all.
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// 400 with a code of its own (`invalid_token`, `invalid_cursor`, ...).
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// 401: no valid credentials (`unauthorized`, `invalid_credentials`, ...).
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: String },
    /// 403: authenticated but not allowed (`forbidden`, `email_not_verified`, ...).
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    /// 404 `not_found`.
    #[error("no such resource")]
    NotFound,
    /// 405 `method_not_allowed`: the route exists, the method does not.
    #[error("the method is not allowed on this resource")]
    MethodNotAllowed,
    /// 409: the resource's state forbids the change (`email_taken`, `in_progress`, ...).
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// 412 `precondition_failed`: the `If-Match` names a version the resource is no longer at.
    #[error("the resource has changed since the version given")]
    PreconditionFailed,
    /// 413 `payload_too_large`: the body is over [`crate::http::MAX_BODY_BYTES`].
    #[error("the body is too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`: a JSON route was sent something else.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// 422: well-formed, but cannot be processed as sent (`idempotency_key_reused`, ...).
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    /// 429 `rate_limited`, with a `Retry-After` header.
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    /// 500 `internal`: the body says nothing; the whole cause chain goes to the log.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// Any failure the client cannot do anything about.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(error.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::MalformedJson(_) | ApiError::BadRequest { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PreconditionFailed => "precondition_failed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal",
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Unprocessable { code, .. } => code,
        }
    }

    /// The problem document, without the request id (added on the way out).
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            ApiError::Internal(_) => INTERNAL_DETAIL.to_owned(),
            other => other.to_string(),
        };
        let errors = match self {
            ApiError::Validation(errors) => Some(errors.clone()),
            _ => None,
        };
        Problem {
            errors,
            ..Problem::new(status, self.code(), detail)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(error) = &self {
            // `{:#}` prints the whole cause chain on one line.
            tracing::error!(error = %format_args!("{error:#}"), "request failed");
        }
        let mut response = self.problem().into_response();
        if let ApiError::RateLimited { retry_after } = self {
            // Retry-After is in whole seconds; round up so a client never retries too early.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

/// An RFC 9457 problem document with this API's extension members.
///
/// `type` is always `about:blank`, so `title` is the status's reason phrase; `code` is what
/// clients branch on.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub errors: Option<Vec<FieldError>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_id: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            problem_type: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.into(),
            errors: None,
            request_id: None,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match serde_json::to_vec(&self) {
            Ok(body) => (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response(),
            Err(error) => {
                tracing::error!(%error, "could not encode a problem document");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_validation_error_lists_its_fields() {
        let error = ApiError::Validation(vec![FieldError::new("email", "not an email address")]);
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = body_of(response).await;
        assert_eq!(body["type"], "about:blank");
        assert_eq!(body["title"], "Bad Request");
        assert_eq!(body["status"], 400);
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["errors"][0]["field"], "email");
        assert_eq!(body["errors"][0]["message"], "not an email address");
    }

    #[tokio::test]
    async fn an_internal_error_says_nothing_about_its_cause() {
        let cause =
            anyhow::anyhow!("connection to db-7.internal refused").context("loading the user");
        let response = ApiError::Internal(cause).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_of(response).await;
        assert_eq!(body["code"], "internal");
        let text = body.to_string();
        assert!(
            !text.contains("db-7") && !text.contains("loading"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_rate_limit_says_when_to_retry_rounded_up() {
        let response = ApiError::RateLimited {
            retry_after: Duration::from_millis(1500),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(body_of(response).await["code"], "rate_limited");
    }

    #[test]
    fn every_variant_has_the_status_its_code_implies() {
        let cases = [
            (ApiError::MalformedJson("eof".into()), 400, "malformed_json"),
            (
                ApiError::Unauthorized {
                    code: "invalid_credentials",
                    detail: "no".into(),
                },
                401,
                "invalid_credentials",
            ),
            (
                ApiError::Forbidden {
                    code: "forbidden",
                    detail: "no".into(),
                },
                403,
                "forbidden",
            ),
            (ApiError::NotFound, 404, "not_found"),
            (ApiError::MethodNotAllowed, 405, "method_not_allowed"),
            (
                ApiError::Conflict {
                    code: "email_taken",
                    detail: "taken".into(),
                },
                409,
                "email_taken",
            ),
            (ApiError::PreconditionFailed, 412, "precondition_failed"),
            (ApiError::PayloadTooLarge, 413, "payload_too_large"),
            (
                ApiError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (
                ApiError::Unprocessable {
                    code: "idempotency_key_reused",
                    detail: "x".into(),
                },
                422,
                "idempotency_key_reused",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!((error.status().as_u16(), error.code()), (status, code));
        }
    }
}
