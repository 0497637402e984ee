//! Deny by default: every endpoint's policy holds over real HTTP.

use functions::api::ENDPOINTS;
use functions::auth::guard::Policy;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{AuthSystem, bearer, on_both_systems};

async fn every_protected_endpoint_refuses_a_request_without_a_valid_token(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let protected: Vec<_> = ENDPOINTS
        .iter()
        .filter(|e| e.policy != Policy::Public)
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
    let login = app.signed_up("mallory@example.com").await?;
    let token = bearer(&login);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    // Flip one character of the payload; the signature no longer matches.
    let flipped = if parts[1].ends_with('A') { 'B' } else { 'A' };
    parts[1].pop();
    parts[1].push(flipped);
    let tampered = parts.join(".");
    let response = app
        .call(Method::GET, "/api/v1/auth/profile", Some(&tampered), None)
        .await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

on_both_systems!(
    every_protected_endpoint_refuses_a_request_without_a_valid_token,
    a_tampered_access_token_is_refused,
);
