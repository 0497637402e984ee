//! The signing key set, read through the secrets port and kept in the process for a minute.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::keys::{KeySet, KeySetError};
use crate::cache::TtlCache;
use crate::secrets::Secrets;

/// How long a function trusts the key set it read. Rotation publishes a key as `next` longer
/// than this before it signs anything, so no verifier meets a kid it has not read yet.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct CachedKeySet {
    secrets: Arc<dyn Secrets>,
    name: String,
    cached: TtlCache<Arc<KeySet>>,
}

impl CachedKeySet {
    pub fn new(secrets: Arc<dyn Secrets>, name: impl Into<String>) -> Self {
        Self::with_ttl(secrets, name, CACHE_TTL)
    }

    pub fn with_ttl(secrets: Arc<dyn Secrets>, name: impl Into<String>, ttl: Duration) -> Self {
        Self {
            secrets,
            name: name.into(),
            cached: TtlCache::new(ttl),
        }
    }

    /// The key set, from the cache while it is fresh.
    pub async fn get(&self) -> Result<Arc<KeySet>, KeySetError> {
        if let Some(set) = self.cached.fresh() {
            return Ok(set);
        }
        // Two callers missing the cache at once both read the secret; cheaper than holding a
        // lock across a network call.
        let set = Arc::new(KeySet::load(self.secrets.as_ref(), &self.name).await?);
        self.cached.store(set.clone());
        Ok(set)
    }
}
