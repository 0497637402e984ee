//! Every endpoint on one router: what the local server serves (a Lambda main serves one).

use axum::Router;
use infra::compose::Backend;

use crate::auth::guard::{Authenticator, Endpoint, Policy};
use crate::auth::jwks::{self, PublicKeys};
use crate::auth::{
    change_password, confirm_reset, delete_session, login, logout, logout_all, permissions,
    profile, refresh, register, resend_verification, reset_password, sessions, verify_email,
};
use crate::system::health;

/// Every endpoint and its policy: the one place that says who may call what. The catalog must
/// list exactly these, and [`router`] mounts exactly these.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        function: health::FUNCTION,
        method: health::METHOD,
        path: health::PATH,
        policy: Policy::Public,
    },
    Endpoint {
        function: jwks::FUNCTION,
        method: jwks::METHOD,
        path: jwks::PATH,
        policy: Policy::Public,
    },
    register::ENDPOINT,
    verify_email::ENDPOINT,
    resend_verification::ENDPOINT,
    login::ENDPOINT,
    refresh::ENDPOINT,
    logout::ENDPOINT,
    logout_all::ENDPOINT,
    reset_password::ENDPOINT,
    confirm_reset::ENDPOINT,
    change_password::ENDPOINT,
    profile::ENDPOINT,
    permissions::ENDPOINT,
    sessions::ENDPOINT,
    delete_session::ENDPOINT,
];

/// Every endpoint's router, each with the state its Lambda main would build.
pub fn router(backend: &Backend) -> anyhow::Result<Router> {
    let accounts = backend.accounts()?;
    let issuer = backend.token_issuer()?;
    let authenticator = Authenticator::from_backend(backend)?;
    Ok(Router::new()
        .merge(health::router())
        .merge(jwks::router(PublicKeys::new(
            backend.secrets()?,
            backend.signing_keys_secret(),
        )))
        .merge(register::router(accounts.clone()))
        .merge(verify_email::router(accounts.clone()))
        .merge(resend_verification::router(accounts.clone()))
        .merge(login::router(accounts.clone(), issuer.clone()))
        .merge(refresh::router(accounts.clone(), issuer))
        .merge(logout::router(accounts.clone(), authenticator.clone()))
        .merge(logout_all::router(accounts.clone(), authenticator.clone()))
        .merge(reset_password::router(accounts.clone()))
        .merge(confirm_reset::router(accounts.clone()))
        .merge(change_password::router(
            accounts.clone(),
            authenticator.clone(),
        ))
        .merge(profile::router(authenticator.clone()))
        .merge(permissions::router(authenticator.clone()))
        .merge(sessions::router(authenticator.clone()))
        .merge(delete_session::router(accounts, authenticator)))
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
        let endpoints = ENDPOINTS
            .iter()
            .map(|e| (e.function, e.method, e.path))
            .collect();
        assert_eq!(catalog, endpoints);
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
        for Endpoint {
            function,
            method,
            path,
            ..
        } in ENDPOINTS
        {
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
