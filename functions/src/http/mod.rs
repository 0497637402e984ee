//! The HTTP layer every endpoint shares, on Lambda and locally alike.
//!
//! [`app`] wraps a router of endpoints with everything the API promises on every route:
//!
//! - a request id (API Gateway's, or a fresh UUIDv7) in a tracing span and `X-Request-Id`;
//! - the security headers ([`headers`]);
//! - errors as `application/problem+json` ([`problem`]), including 404, 405 and the
//!   rejections of extractors ([`fallback`]);
//! - a 1 MiB body limit answered with 413 ([`limits`]; [`limit`] sets another for a group of
//!   routes);
//! - a panicking handler answered with an opaque 500 ([`panic`]);
//! - for paged lists, their parameters and cursors ([`pages`]).
//!
//! An endpoint is a [`Handler`]: its async function and state, erased, so the wiring can mount it
//! on the route its declaration names ([`crate::wiring`]). A Lambda function runs `app` over its
//! one route under lambda_http; the local server runs it over every route. The same stack serves
//! both, so they behave alike.

pub mod declared;
pub mod fallback;
pub mod headers;
pub mod idempotency;
pub mod json;
pub mod limits;
pub mod pages;
pub mod panic;
pub mod problem;
pub mod request_id;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::auth::guard::Route;

pub use json::Json;
pub use limits::MAX_BODY_BYTES;
pub use problem::{ApiError, FieldError, PROBLEM_JSON, Problem};
pub use request_id::RequestId;

/// One endpoint's handler with its state, ready to be mounted on any route.
pub type Handler = BoxCloneSyncService<Request, Response, Infallible>;

/// The [`Handler`] of an axum handler function and the state it takes.
pub fn handler<H, T, S>(handler: H, state: S) -> Handler
where
    H: axum::handler::Handler<T, S> + Sync,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    BoxCloneSyncService::new(handler.with_state(state))
}

/// Wraps endpoint routes with the API's fallbacks and middleware, bodies limited to
/// [`MAX_BODY_BYTES`]. Only the `declared` routes answer.
pub fn app(routes: Router, declared: &[Route]) -> Router {
    app_of_limited(limit(routes, MAX_BODY_BYTES), declared)
}

/// Limits the bodies of these routes (those present now) to `max` bytes, answering 413 above.
pub fn limit(routes: Router, max: usize) -> Router {
    routes
        .layer(from_fn_with_state(max, limits::limit_body))
        .layer(DefaultBodyLimit::max(max))
}

/// [`app`] for routes that each went through [`limit`] already, so groups of routes can have
/// limits of their own (the local blob store takes uploads larger than any API body), and that
/// are declared in the `declared` tables.
pub fn app_of_limited(routes: Router, declared: &[Route]) -> Router {
    let declared: Arc<[Route]> = declared.into();
    routes
        .route_layer(from_fn_with_state(declared, declared::only_declared))
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(
            // Outermost first: the request id exists before anything can fail.
            ServiceBuilder::new()
                .layer(from_fn(request_id::assign))
                .layer(from_fn(headers::secure))
                .layer(from_fn(fallback::problems))
                .layer(from_fn(panic::catch)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Path;
    use axum::response::Response;
    use axum::routing::{get, post};
    use http::{Request, StatusCode, header};
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    const fn public(method: &'static str, path: &'static str) -> Route {
        Route::public(method, path)
    }

    /// The test routes' declarations; `/undeclared` is left out on purpose.
    const TEST_ROUTES: &[Route] = &[
        public("POST", "/echo"),
        public("GET", "/items/{n}"),
        public("GET", "/fail"),
        public("GET", "/panic"),
        public("GET", "/cached"),
        public("POST", "/small"),
        public("POST", "/large"),
    ];

    fn test_app() -> Router {
        test_app_of(
            Router::new()
                .route(
                    "/echo",
                    post(|Json(body): Json<Value>| async move { axum::Json(body) }),
                )
                .route(
                    "/items/{n}",
                    get(|Path(n): Path<u32>| async move { n.to_string() }),
                )
                .route(
                    "/fail",
                    get(|| async {
                        Err::<(), _>(ApiError::internal(anyhow::anyhow!("disk db-7 is full")))
                    }),
                )
                .route(
                    "/panic",
                    get(|| async {
                        if true {
                            panic!("invariant broken near secret-x")
                        }
                    }),
                )
                .route(
                    "/cached",
                    get(|| async { ([(header::CACHE_CONTROL, "public, max-age=60")], "ok") }),
                )
                .route("/undeclared", get(|| async { "served" })),
        )
    }

    fn test_app_of(routes: Router) -> Router {
        app_of_limited(limit(routes, MAX_BODY_BYTES), TEST_ROUTES)
    }

    async fn send(request: Request<Body>) -> (Response<()>, Value) {
        let response = test_app()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap();
        (
            Response::from_parts(parts, ()),
            // Not every test route answers JSON (`/cached` says "ok"); those bodies read as null.
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn get_request(uri: &str) -> Request<Body> {
        Request::get(uri).body(Body::empty()).unwrap()
    }

    fn post_request(content_type: &str, body: impl Into<Body>) -> Request<Body> {
        Request::post("/echo")
            .header(header::CONTENT_TYPE, content_type)
            .body(body.into())
            .unwrap()
    }

    fn assert_problem(response: &Response<()>, body: &Value, status: u16, code: &str) {
        assert_eq!(response.status().as_u16(), status, "{body}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(body["status"], status);
        assert_eq!(body["code"], code, "{body}");
        let request_id = &response.headers()[request_id::HEADER];
        assert_eq!(body["request_id"].as_str(), request_id.to_str().ok());
    }

    #[tokio::test]
    async fn every_response_carries_the_security_headers_and_a_request_id() {
        for uri in ["/items/7", "/nowhere"] {
            let (response, _) = send(get_request(uri)).await;
            let headers = response.headers();
            assert_eq!(headers[header::CACHE_CONTROL], "no-store");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
            assert_eq!(
                headers[header::CONTENT_SECURITY_POLICY],
                "default-src 'none'; frame-ancestors 'none'"
            );
            let id = headers[request_id::HEADER].to_str().unwrap();
            assert_eq!(
                uuid::Uuid::parse_str(id).map(|u| u.get_version_num()).ok(),
                Some(7),
                "{id}"
            );
        }
    }

    #[tokio::test]
    async fn a_handler_may_choose_its_own_caching() {
        let (response, _) = send(get_request("/cached")).await;
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=60"
        );
    }

    #[tokio::test]
    async fn a_route_without_a_declared_policy_is_refused() {
        let (response, body) = send(get_request("/undeclared")).await;
        assert_problem(&response, &body, 403, "forbidden");
        let (response, _) = send(get_request("/cached")).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn an_unknown_route_is_a_404_problem() {
        let (response, body) = send(get_request("/nowhere")).await;
        assert_problem(&response, &body, 404, "not_found");
    }

    #[tokio::test]
    async fn a_wrong_method_is_a_405_problem_that_says_what_is_allowed() {
        let request = Request::delete("/echo").body(Body::empty()).unwrap();
        let (response, body) = send(request).await;
        assert_problem(&response, &body, 405, "method_not_allowed");
        assert_eq!(response.headers()[header::ALLOW], "POST");
    }

    #[tokio::test]
    async fn a_json_body_is_echoed() {
        let (response, body) = send(post_request("application/json", r#"{"a":1}"#)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body, json!({"a": 1}));
    }

    #[tokio::test]
    async fn malformed_json_is_a_400_problem() {
        let (response, body) = send(post_request("application/json", "{\"a\":")).await;
        assert_problem(&response, &body, 400, "malformed_json");
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_a_415_problem() {
        let (response, body) = send(post_request("text/plain", "a=1")).await;
        assert_problem(&response, &body, 415, "unsupported_media_type");
    }

    #[tokio::test]
    async fn a_declared_body_over_the_limit_is_refused_before_the_handler() {
        let request = Request::post("/echo")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, (MAX_BODY_BYTES + 1).to_string())
            .body(Body::empty())
            .unwrap();
        let (response, body) = send(request).await;
        assert_problem(&response, &body, 413, "payload_too_large");
    }

    #[tokio::test]
    async fn an_undeclared_body_over_the_limit_is_refused_while_read() {
        let big = format!("\"{}\"", "x".repeat(MAX_BODY_BYTES));
        let (response, body) = send(post_request("application/json", big)).await;
        assert_problem(&response, &body, 413, "payload_too_large");
    }

    #[tokio::test]
    async fn a_body_at_the_limit_is_accepted() {
        let exact = format!("\"{}\"", "x".repeat(MAX_BODY_BYTES - 2));
        let (response, _) = send(post_request("application/json", exact)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_group_of_routes_may_have_a_limit_of_its_own() {
        let echo_len = || post(|body: bytes::Bytes| async move { body.len().to_string() });
        let small = limit(Router::new().route("/small", echo_len()), 10);
        let large = limit(Router::new().route("/large", echo_len()), 100);
        let app = app_of_limited(small.merge(large), TEST_ROUTES);
        let send = |uri: &str| {
            let request = Request::post(uri).body(Body::from(vec![b'x'; 50])).unwrap();
            app.clone().oneshot(request)
        };
        let small = send("/small").await.unwrap_or_else(|e| match e {});
        assert_eq!(small.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(small.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let large = send("/large").await.unwrap_or_else(|e| match e {});
        assert_eq!(large.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn an_internal_error_is_an_opaque_500_problem() {
        let (response, body) = send(get_request("/fail")).await;
        assert_problem(&response, &body, 500, "internal");
        assert!(!body.to_string().contains("db-7"), "{body}");
    }

    #[tokio::test]
    async fn a_panicking_handler_is_an_opaque_500_problem() {
        let (response, body) = send(get_request("/panic")).await;
        assert_problem(&response, &body, 500, "internal");
        assert!(!body.to_string().contains("secret-x"), "{body}");
    }

    #[tokio::test]
    async fn an_extractor_rejection_becomes_a_problem() {
        let (response, body) = send(get_request("/items/seven")).await;
        assert_problem(&response, &body, 400, "bad_request");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains("parse")),
            "{body}"
        );
    }

    #[tokio::test]
    async fn the_request_id_comes_from_api_gateway_on_lambda() {
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/nowhere",
            "rawQueryString": "",
            "headers": {"host": "api.example.com"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                "http": {"method": "GET", "path": "/nowhere", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "t"},
                "requestId": "Zx1bCgFRoAMEJvQ=", "routeKey": "$default", "stage": "$default",
                "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 1767225600000_u64
            },
            "isBase64Encoded": false
        });
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let response = test_app()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[request_id::HEADER], "Zx1bCgFRoAMEJvQ=");
    }
}
