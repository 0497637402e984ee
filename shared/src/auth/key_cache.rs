//! The signing key set, read through the secrets port and kept in the process for a minute.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::auth::keys::{KeySet, KeySetError};
use crate::secrets::Secrets;

/// How long a function trusts the key set it read. Rotation publishes a key as `next` longer
/// than this before it signs anything, so no verifier meets a kid it has not read yet.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct CachedKeySet {
    secrets: Arc<dyn Secrets>,
    name: String,
    ttl: Duration,
    cached: Arc<Mutex<Option<(Instant, Arc<KeySet>)>>>,
}

impl CachedKeySet {
    pub fn new(secrets: Arc<dyn Secrets>, name: impl Into<String>) -> Self {
        Self::with_ttl(secrets, name, CACHE_TTL)
    }

    pub fn with_ttl(secrets: Arc<dyn Secrets>, name: impl Into<String>, ttl: Duration) -> Self {
        Self {
            secrets,
            name: name.into(),
            ttl,
            cached: Arc::new(Mutex::new(None)),
        }
    }

    /// The key set, from the cache while it is fresh.
    pub async fn get(&self) -> Result<Arc<KeySet>, KeySetError> {
        if let Some((at, set)) = self.lock().as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(set.clone());
        }
        // Two callers missing the cache at once both read the secret; cheaper than holding a
        // lock across a network call.
        let set = Arc::new(KeySet::load(self.secrets.as_ref(), &self.name).await?);
        *self.lock() = Some((Instant::now(), set.clone()));
        Ok(set)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Arc<KeySet>)>> {
        // The cache holds no invariant a panic could break.
        self.cached.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
