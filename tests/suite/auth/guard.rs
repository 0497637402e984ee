//! Deny by default: every endpoint's policy holds over real HTTP.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use functions::auth::guard::Access;
use functions::wiring::{FUNCTIONS, routes};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{AuthSystem, bearer, on_both_systems};

async fn every_protected_endpoint_refuses_a_request_without_a_valid_token(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let protected: Vec<_> = routes(FUNCTIONS)
        .into_iter()
        .filter(|r| matches!(r.access, Access::Protected(_)))
        .collect();
    assert!(!protected.is_empty());
    for endpoint in protected {
        let path = endpoint
            .path
            .replace("{id}", &uuid::Uuid::new_v4().to_string());
        let method = Method::from_bytes(endpoint.method.as_bytes())?;
        for token in [
            None,
            Some("not-a-token"),
            Some("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
        ] {
            let response = app.call(method.clone(), &path, token, None).await?;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{} {} with {token:?}",
                endpoint.method,
                endpoint.path
            );
            let body: Value = response.json().await?;
            assert_eq!(body["code"], "unauthorized");
        }
    }
    Ok(())
}

async fn a_tampered_access_token_is_refused(app: &impl AuthSystem) -> anyhow::Result<()> {
    let victim: Value = app.register("victim@example.com").await?.json().await?;
    let login = app.signed_up("mallory@example.com").await?;
    let token = bearer(&login);
    assert_eq!(app.profile(&token).await?, StatusCode::OK);
    let parts: Vec<&str> = token.split('.').collect();

    // Flip one character of the payload; the signature no longer matches.
    let mut flipped = parts[1].to_owned();
    let last = if flipped.ends_with('A') { 'B' } else { 'A' };
    flipped.pop();
    flipped.push(last);
    // A well-formed payload naming another user under the original signature.
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1])?)?;
    claims["sub"] = victim["user"]["id"].clone();
    let impersonating = URL_SAFE_NO_PAD.encode(claims.to_string());

    for payload in [flipped, impersonating] {
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert_eq!(app.profile(&tampered).await?, StatusCode::UNAUTHORIZED);
    }
    Ok(())
}

on_both_systems!(
    every_protected_endpoint_refuses_a_request_without_a_valid_token,
    a_tampered_access_token_is_refused,
);

/// What the HTTP test above shows for the router, for each function as its Lambda main builds
/// it: a protected route mounted without its guard fails here, whichever way it is served.
#[tokio::test]
async fn every_protected_function_as_its_lambda_main_builds_it_refuses_a_call_without_a_token()
-> anyhow::Result<()> {
    use axum::body::Body;
    use functions::wiring::lambda::build_http_app;
    use tower::ServiceExt;

    let dir = tempfile::tempdir()?;
    let backend = tests::local::identity_backend(dir.path()).await?;
    let mut checked = 0;
    for function in FUNCTIONS {
        let Some(route) = function.route() else {
            continue;
        };
        if route.access == Access::Public {
            continue;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let path = route.path.replace("{id}", &id).replace("{role_id}", &id);
        let request = http::Request::builder()
            .method(route.method)
            .uri(&path)
            .body(Body::empty())?;
        let response = build_http_app(function, &backend)?.oneshot(request).await?;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{} ({} {}) answered without a token",
            function.name,
            route.method,
            route.path
        );
        checked += 1;
    }
    assert!(checked > 30, "only {checked} protected functions");
    Ok(())
}
