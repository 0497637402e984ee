//! Every endpoint on one router: what the local server serves (a Lambda main serves one).

use axum::Router;
use infra::compose::Backend;

use crate::auth::jwks::{self, PublicKeys};
use crate::system::health;

/// Every endpoint as `(function, method, path)`; the catalog must list exactly these.
pub const ENDPOINTS: &[(&str, &str, &str)] = &[
    (health::FUNCTION, health::METHOD, health::PATH),
    (jwks::FUNCTION, jwks::METHOD, jwks::PATH),
];

/// Every endpoint's router, each with the state its Lambda main would build.
pub fn router(backend: &Backend) -> anyhow::Result<Router> {
    Ok(Router::new()
        .merge(health::router())
        .merge(jwks::router(PublicKeys::new(
            backend.secrets()?,
            backend.signing_keys_secret(),
        ))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use axum::body::Body;
    use infra::config::LocalConfig;
    use tower::ServiceExt;

    use crate::catalog::{FUNCTIONS, Trigger};

    #[test]
    fn the_endpoints_are_the_catalogs_http_functions() {
        let catalog: BTreeSet<(&str, &str, &str)> = FUNCTIONS
            .iter()
            .filter_map(|f| match f.trigger {
                Trigger::Http { method, path } => Some((f.name, method, path)),
                Trigger::Schedule { .. } | Trigger::Stream | Trigger::Queue { .. } => None,
            })
            .collect();
        assert_eq!(catalog, ENDPOINTS.iter().copied().collect());
    }

    #[tokio::test]
    async fn the_router_answers_every_endpoint() {
        let dir = tempfile::tempdir();
        let Ok(dir) = dir else { panic!("{dir:?}") };
        let backend = Backend::local(LocalConfig::new(dir.path(), "http://127.0.0.1:3000")).await;
        let router = backend.and_then(|backend| router(&backend));
        let Ok(router) = router else {
            panic!("{router:?}")
        };
        let app = crate::http::app(router);
        for (function, method, path) in ENDPOINTS {
            let request = http::Request::builder()
                .method(*method)
                .uri(*path)
                .body(Body::empty())
                .unwrap_or_default();
            let response = app
                .clone()
                .oneshot(request)
                .await
                .unwrap_or_else(|e| match e {});
            let status = response.status().as_u16();
            assert!(
                status != 404 && status != 405,
                "{function}: {method} {path} answered {status}"
            );
        }
    }
}
