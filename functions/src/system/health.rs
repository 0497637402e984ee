//! `GET /health`: the function is up, and which version it runs.

use serde::Serialize;

use crate::http::Handler;

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

pub fn handler() -> Handler {
    crate::http::handler(handle, ())
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
        let request = http::Request::get("/health").body(Body::empty()).unwrap();
        let response = handler().oneshot(request).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
        );
    }
}
