//! `GET /.well-known/jwks.json`: the public keys access tokens are verified with.
//!
//! The key set is read through the secrets port and kept in the process for [`CACHE_TTL`], so a
//! warm function answers without a call to the secret store.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use bytes::Bytes;
use http::header;
use shared::auth::keys::KeySet;
use shared::cache::TtlCache;
use shared::secrets::Secrets;

use crate::http::{ApiError, Handler};

/// How long a parsed key set is reused before it is read again.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// Public keys are the one response meant to be cached: verifiers fetch them often and they are
/// public. Caching cannot make a verifier miss a signing key, because a key is published as
/// `next` well before it becomes `current` (rotation waits longer than this plus
/// [`CACHE_TTL`]), and a retired key stays published until the tokens it signed have expired.
const CACHE_CONTROL: &str = "public, max-age=300";

/// The key set's public half, read through the secrets port and cached.
#[derive(Debug, Clone)]
pub struct PublicKeys {
    secrets: Arc<dyn Secrets>,
    secret_name: String,
    cached: TtlCache<Bytes>,
}

impl PublicKeys {
    pub fn new(secrets: Arc<dyn Secrets>, secret_name: impl Into<String>) -> Self {
        Self::with_ttl(secrets, secret_name, CACHE_TTL)
    }

    pub fn with_ttl(
        secrets: Arc<dyn Secrets>,
        secret_name: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self {
            secrets,
            secret_name: secret_name.into(),
            cached: TtlCache::new(ttl),
        }
    }

    /// The JWKS document, from the cache while it is fresh.
    pub async fn document(&self) -> anyhow::Result<Bytes> {
        if let Some(body) = self.cached.fresh() {
            return Ok(body);
        }
        // Two requests missing the cache at once both read the secret; that is cheaper than
        // making every request wait on one lock across a network call.
        let set = KeySet::load(self.secrets.as_ref(), &self.secret_name).await?;
        let body = Bytes::from(serde_json::to_vec(&set.jwks()?)?);
        self.cached.store(body.clone());
        Ok(body)
    }
}

pub fn handler(keys: PublicKeys) -> Handler {
    crate::http::handler(handle, keys)
}

async fn handle(State(keys): State<PublicKeys>) -> Result<impl IntoResponse, ApiError> {
    let body = keys
        .document()
        .await
        .map_err(|e| ApiError::Internal(e.context("publishing the key set")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use axum::body::Body;
    use chrono::Utc;
    use http_body_util::BodyExt;
    use shared::clock::OsRandom;
    use shared::secrets::SecretsError;
    use tower::ServiceExt;

    use crate::auth::guard::{self, Route};

    #[derive(Debug, Default)]
    struct CountingSecrets {
        values: Mutex<HashMap<String, String>>,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl Secrets for CountingSecrets {
        async fn get(&self, name: &str) -> Result<Option<String>, SecretsError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(self.values.lock().unwrap().get(name).cloned())
        }
        async fn put(&self, name: &str, value: &str) -> Result<(), SecretsError> {
            self.values
                .lock()
                .unwrap()
                .insert(name.into(), value.into());
            Ok(())
        }
        async fn create(&self, name: &str, value: &str) -> Result<bool, SecretsError> {
            let mut values = self.values.lock().unwrap();
            Ok(values.insert(name.into(), value.into()).is_none())
        }
    }

    async fn with_key_set() -> (Arc<CountingSecrets>, KeySet) {
        let secrets = Arc::new(CountingSecrets::default());
        let set = KeySet::load_or_create(secrets.as_ref(), "keys", Utc::now(), &OsRandom)
            .await
            .unwrap();
        secrets.reads.store(0, Ordering::SeqCst);
        (secrets, set)
    }

    async fn get_jwks(keys: PublicKeys) -> (http::Response<()>, serde_json::Value) {
        let route = Route::public("GET", "/.well-known/jwks.json");
        let routes = guard::public(route.method, route.path, handler(keys)).unwrap();
        let request = http::Request::get(route.path).body(Body::empty()).unwrap();
        let response = crate::http::app(routes, &[route])
            .oneshot(request)
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            http::Response::from_parts(parts, ()),
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[tokio::test]
    async fn the_document_lists_every_public_key_of_the_set() {
        let (secrets, set) = with_key_set().await;
        let (response, body) = get_jwks(PublicKeys::new(secrets, "keys")).await;
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(response.headers()[header::CACHE_CONTROL], CACHE_CONTROL);
        let keys = body["keys"].as_array().unwrap();
        assert_eq!(keys.len(), set.keys.len());
        assert_eq!(keys[0]["kty"], "OKP");
        assert_eq!(keys[0]["crv"], "Ed25519");
        assert_eq!(keys[0]["kid"], set.keys[0].kid.as_str());
        assert!(!body.to_string().contains("seed"), "{body}");
    }

    #[tokio::test]
    async fn a_fresh_cache_answers_without_reading_the_secret() {
        let (secrets, _) = with_key_set().await;
        let keys = PublicKeys::new(secrets.clone(), "keys");
        for _ in 0..3 {
            assert!(keys.document().await.is_ok());
        }
        assert_eq!(secrets.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_stale_cache_reads_the_secret_again() {
        let (secrets, _) = with_key_set().await;
        let keys = PublicKeys::with_ttl(secrets.clone(), "keys", Duration::ZERO);
        for _ in 0..2 {
            assert!(keys.document().await.is_ok());
        }
        assert_eq!(secrets.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_missing_key_set_is_an_internal_error() {
        let (response, body) = get_jwks(PublicKeys::new(
            Arc::new(CountingSecrets::default()),
            "keys",
        ))
        .await;
        assert_eq!(response.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal");
    }
}
