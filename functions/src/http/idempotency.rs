//! `Idempotency-Key` on the endpoints whose declaration asks for it
//! ([`crate::wiring::Function::idempotent`]).
//!
//! A request without the header runs as always. With it, the first delivery claims the key and
//! runs; its answer is stored and replayed to a retry with `Idempotent-Replayed: true`. A retry
//! while the first still runs gets 409 `idempotency_in_flight`; the same key with another
//! request (method, path, query, body) 422 `idempotency_key_reused`. Keys are scoped to the
//! caller, and for anonymous calls to the route.
//!
//! An answer that says nothing happened (a 5xx, a 429) is not stored: the key is given up and
//! a retry runs again. Where the use case commits in a transaction, the record that the effect
//! happened is part of it ([`shared::idempotency::Marking`]): a delivery that crashes between
//! its commit and storing its answer leaves a key whose retry gets 409
//! `idempotency_answer_lost` rather than a second effect. Where it does not, a crash in that
//! window leaves the key to expire with the delivery's deadline, and a retry runs again
//! (at least once).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use http::header::{CONTENT_TYPE, ETAG, LOCATION, RETRY_AFTER};
use http::{HeaderName, HeaderValue, StatusCode};
use shared::idempotency::{Answer, Claim, Idempotency, Pending, fingerprint, valid_key};
use tower::ServiceExt as _;
use tower::util::BoxCloneSyncService;

use crate::auth::guard::Caller;
use crate::http::{ApiError, FieldError, Handler, MAX_BODY_BYTES};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long a delivery holds its key when nothing says when it must end: API Gateway's
/// integration timeout. On Lambda, the invocation's deadline.
const DEFAULT_BUDGET: Duration = Duration::from_secs(30);

/// The headers of an answer that a replay repeats (the API's own headers are added again on
/// the way out).
const REPLAYED_HEADERS: [HeaderName; 3] = [CONTENT_TYPE, ETAG, LOCATION];

/// `handler`, honouring `Idempotency-Key` with the records of `keys`.
pub fn keyed(handler: Handler, keys: Idempotency) -> Handler {
    let keys = Arc::new(keys);
    BoxCloneSyncService::new(tower::service_fn(move |request: Request| {
        let (handler, keys) = (handler.clone(), keys.clone());
        async move { Ok(serve(handler, &keys, request).await) }
    }))
}

async fn serve(handler: Handler, keys: &Idempotency, request: Request) -> Response {
    let Some(key) = request.headers().get(&IDEMPOTENCY_KEY) else {
        return run(handler, request).await;
    };
    let Some(key) = key
        .to_str()
        .ok()
        .filter(|k| valid_key(k))
        .map(str::to_owned)
    else {
        return ApiError::Validation(vec![FieldError::new(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )])
        .into_response();
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::PayloadTooLarge.into_response();
    };
    let scope = match parts.extensions.get::<Arc<Caller>>() {
        Some(caller) => format!("user {}", caller.user.id),
        None => {
            let route = parts
                .extensions
                .get::<MatchedPath>()
                .map(MatchedPath::as_str);
            format!(
                "anonymous {} {}",
                parts.method,
                route.unwrap_or(parts.uri.path())
            )
        }
    };
    let fingerprint = fingerprint(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &body,
    );
    let deadline = deadline(&parts.extensions, keys.now());
    let ticket = match keys.claim(&scope, &key, &fingerprint, deadline).await {
        Ok(Claim::Acquired(ticket)) => ticket,
        Ok(Claim::Replay(answer)) => return replay(&answer),
        Ok(Claim::InFlight) => {
            let mut response = conflict(
                "idempotency_in_flight",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        Ok(Claim::Applied) => {
            return conflict(
                "idempotency_answer_lost",
                "the request with this Idempotency-Key took effect, but its answer was not kept; read the resource to see the outcome",
            );
        }
        Ok(Claim::Mismatch) => {
            return ApiError::Unprocessable {
                code: "idempotency_key_reused",
                detail: "this Idempotency-Key was used for a different request".to_owned(),
            }
            .into_response();
        }
        Err(error) => {
            return ApiError::internal(
                anyhow::Error::new(error).context("claiming an idempotency key"),
            )
            .into_response();
        }
    };
    let pending = match Pending::new(&ticket) {
        Ok(pending) => pending,
        Err(error) => return ApiError::internal(error).into_response(),
    };
    let request = Request::from_parts(parts, Body::from(body));
    let response = pending.scope(run(handler, request)).await;
    let (parts, body) = response.into_parts();
    let body: Bytes = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            return ApiError::internal(anyhow::Error::new(error).context("reading an answer"))
                .into_response();
        }
    };
    let nothing_happened =
        parts.status.is_server_error() || parts.status == StatusCode::TOO_MANY_REQUESTS;
    if nothing_happened && !pending.applied() {
        if let Err(error) = keys.release(&ticket).await {
            tracing::warn!(error = %format_args!("{:#}", anyhow::Error::new(error)), "could not give up an idempotency key; it frees itself at the request's deadline");
        }
    } else if !nothing_happened {
        let headers = REPLAYED_HEADERS
            .iter()
            .filter_map(|name| {
                let value = parts.headers.get(name)?.to_str().ok()?;
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect();
        let answer = Answer::new(parts.status.as_u16(), headers, &body);
        if let Err(error) = keys.complete(&ticket, answer).await {
            tracing::warn!(error = %format_args!("{:#}", anyhow::Error::new(error)), "could not store an idempotent answer; a retry will not replay it");
        }
    }
    Response::from_parts(parts, Body::from(body))
}

async fn run(handler: Handler, request: Request) -> Response {
    match handler.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// When the delivery must be over: the Lambda invocation's deadline, else the default budget.
fn deadline(extensions: &http::Extensions, now: DateTime<Utc>) -> DateTime<Utc> {
    let budget = TimeDelta::from_std(DEFAULT_BUDGET).unwrap_or(TimeDelta::MAX);
    match extensions.get::<lambda_http::Context>() {
        Some(context) => DateTime::<Utc>::from(context.deadline()),
        None => now + budget,
    }
}

fn replay(answer: &Answer) -> Response {
    let body = match answer.body() {
        Ok(body) => body,
        Err(error) => return ApiError::internal(error).into_response(),
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in &answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

fn conflict(code: &'static str, detail: &str) -> Response {
    ApiError::Conflict {
        code,
        detail: detail.to_owned(),
    }
    .into_response()
}
