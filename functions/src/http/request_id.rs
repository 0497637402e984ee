//! The request id: API Gateway's own when the request came through it, a fresh UUIDv7
//! otherwise. It names the tracing span of the request and is echoed in `X-Request-Id`.

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

pub(crate) async fn assign(mut req: Request, next: Next) -> Response {
    let id = from_gateway(&req).unwrap_or_else(|| Uuid::now_v7().to_string());
    // The query string is left out on purpose: links from mails carry tokens there.
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    req.extensions_mut().insert(RequestId(id.clone()));
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
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
