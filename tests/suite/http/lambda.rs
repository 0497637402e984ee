//! The Lambda path: API Gateway HTTP API events, as lambda_http turns them into requests, served
//! by the same routers and middleware as the local server, and turned back into what Lambda
//! returns to API Gateway.

use std::convert::Infallible;

use functions::wiring::lambda::build_http_app;
use functions::wiring::{HEALTH, JWKS};
use infra::compose::Backend as _;
use lambda_http::http::response::Parts;
use lambda_http::tower::ServiceExt;
use lambda_http::{Body, IntoResponse, Request, Service};
use serde_json::{Value, json};
use shared::auth::keys::KeySet;

/// An API Gateway HTTP API (payload format 2.0) event.
fn gateway_event(method: &str, path: &str, request_id: &str) -> String {
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abc123.execute-api.eu-west-1.amazonaws.com", "user-agent": "curl/8"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "curl/8"},
            "requestId": request_id,
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "01/Jan/2026:10:00:00 +0000",
            "timeEpoch": 1_767_261_600_000_u64
        },
        "isBase64Encoded": false
    })
    .to_string()
}

/// Serves one event and returns the response as lambda_http hands it back to Lambda.
pub async fn invoke<S>(service: S, event: &str) -> anyhow::Result<(Parts, Value)>
where
    S: Service<Request, Error = Infallible>,
    S::Response: IntoResponse,
{
    let request = lambda_http::request::from_str(event)?;
    let response = service.oneshot(request).await?;
    let (parts, body) = response.into_response().await.into_parts();
    match body {
        // 202 and 204 answer with nothing.
        Body::Empty => Ok((parts, Value::Null)),
        Body::Text(text) if text.is_empty() => Ok((parts, Value::Null)),
        // A page (the docs) as the string it is; anything else must be JSON.
        Body::Text(text) if text.starts_with("<!doctype html>") => Ok((parts, Value::String(text))),
        Body::Text(text) => Ok((parts, serde_json::from_str(&text)?)),
        Body::Binary(_) => anyhow::bail!("a JSON body should go back as text, not {body:?}"),
        _ => anyhow::bail!("an unexpected body {body:?}"),
    }
}

#[tokio::test]
async fn the_health_function_answers_an_api_gateway_event() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = tests::local::identity_backend(dir.path()).await?;
    let (parts, body) = invoke(
        build_http_app(&HEALTH, &backend)?,
        &gateway_event("GET", "/health", "Hx1-AbCdEf="),
    )
    .await?;
    assert_eq!(parts.status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(parts.headers["x-request-id"], "Hx1-AbCdEf=");
    assert_eq!(parts.headers["cache-control"], "no-store");
    Ok(())
}

#[tokio::test]
async fn an_unknown_route_on_lambda_is_the_same_problem_with_the_gateway_request_id()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = tests::local::identity_backend(dir.path()).await?;
    let (parts, body) = invoke(
        build_http_app(&HEALTH, &backend)?,
        &gateway_event("GET", "/nope", "Zz9-QwErTy="),
    )
    .await?;
    assert_eq!(parts.status, 404);
    assert_eq!(parts.headers["content-type"], "application/problem+json");
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["request_id"], "Zz9-QwErTy=");
    Ok(())
}

#[tokio::test]
async fn the_jwks_function_publishes_the_key_set_of_its_backend() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = tests::local::identity_backend(dir.path()).await?;
    let secrets = backend.secrets()?;
    let set = KeySet::load(secrets.as_ref(), &backend.settings().signing_keys_secret).await?;

    let path = JWKS.route().unwrap().path;
    let (parts, body) = invoke(
        build_http_app(&JWKS, &backend)?,
        &gateway_event("GET", path, "J1"),
    )
    .await?;
    assert_eq!(parts.status, 200);
    assert_eq!(body["keys"][0]["kid"], set.current().kid.as_str());
    Ok(())
}
