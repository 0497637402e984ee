//! The request id: API Gateway's own when the request came through it, a fresh UUIDv7
//! otherwise. It names the tracing span of the request and is echoed in `X-Request-Id`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderName, HeaderValue};
use lambda_http::request::RequestContext;
use tracing::Instrument;
use uuid::Uuid;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served, as a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Whether this process has served a request yet: its first is a cold start.
static WARM: AtomicBool = AtomicBool::new(false);

pub(crate) async fn assign(mut req: Request, next: Next) -> Response {
    let id = from_gateway(&req).unwrap_or_else(|| Uuid::now_v7().to_string());
    let cold_start = !WARM.swap(true, Ordering::Relaxed);
    let trace_id = trace_id(&req);
    // The query string is left out on purpose: links from mails carry tokens there. The
    // function and its route are filled in once routing has found them.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        cold_start,
        trace_id = tracing::field::Empty,
        function = tracing::field::Empty,
        route = tracing::field::Empty,
    );
    crate::telemetry::record_trace(&span, trace_id.as_deref());
    req.extensions_mut().insert(RequestId(id.clone()));
    let started = Instant::now();
    // The events and jobs the request causes carry its trace.
    let work = shared::trace::scope(trace_id, next.run(req));
    let mut response = work.instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "served"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// The X-Ray trace id of the request: the invocation's (Lambda's context), else the one in the
/// header API Gateway passes on.
fn trace_id(req: &Request) -> Option<String> {
    if let Some(context) = req.extensions().get::<lambda_http::Context>()
        && let Some(trace) = &context.xray_trace_id
    {
        return shared::trace::root_of(trace);
    }
    shared::trace::root_of(req.headers().get("x-amzn-trace-id")?.to_str().ok()?)
}

/// The id API Gateway gave the request, when lambda_http put its context on the request. A
/// client-sent `X-Request-Id` is ignored: anyone could make it collide with another request's.
fn from_gateway(req: &Request) -> Option<String> {
    let id = match req.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context.request_id.clone()?,
        _ => return None,
    };
    let printable = !id.is_empty() && id.len() <= 200 && id.bytes().all(|b| b.is_ascii_graphic());
    printable.then_some(id)
}
