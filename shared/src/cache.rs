//! A value kept in the process for a while: what functions hold between invocations (the key
//! set, the role catalog) so a warm function does not read it on every request.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One value and when it was stored; clones share the slot.
pub struct TtlCache<T> {
    ttl: Duration,
    slot: Arc<Mutex<Option<(Instant, T)>>>,
}

impl<T> Clone for TtlCache<T> {
    fn clone(&self) -> Self {
        Self {
            ttl: self.ttl,
            slot: self.slot.clone(),
        }
    }
}

impl<T> fmt::Debug for TtlCache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<T: Clone> TtlCache<T> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slot: Arc::new(Mutex::new(None)),
        }
    }

    /// The value, while it is younger than the time to live.
    pub fn fresh(&self) -> Option<T> {
        match self.lock().as_ref() {
            Some((at, value)) if at.elapsed() < self.ttl => Some(value.clone()),
            _ => None,
        }
    }

    pub fn store(&self, value: T) {
        *self.lock() = Some((Instant::now(), value));
    }

    pub fn clear(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, T)>> {
        // The slot holds no invariant a panic could break.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_fresh_until_its_time_runs_out_and_clones_share_it() {
        let cache = TtlCache::new(Duration::from_secs(60));
        assert_eq!(cache.fresh(), None);
        cache.clone().store(7);
        assert_eq!(cache.fresh(), Some(7));
        cache.clear();
        assert_eq!(cache.fresh(), None);
        let stale = TtlCache::new(Duration::ZERO);
        stale.store(7);
        assert_eq!(stale.fresh(), None);
    }
}
