//! `GET /health`: the function is up, and which version it runs.

use axum::Router;
use axum::routing::get;
use serde::Serialize;

/// The function's name in the catalog.
pub const FUNCTION: &str = "health";
pub const METHOD: &str = "GET";
pub const PATH: &str = "/health";

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

pub fn router() -> Router {
    Router::new().route(PATH, get(handle))
}

async fn handle() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[tokio::test]
    async fn health_reports_ok_and_the_version() {
        let request = http::Request::get(PATH)
            .body(Body::empty())
            .unwrap_or_default();
        let response = router()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), http::StatusCode::OK);
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(
            body,
            serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
        );
    }
}
