//! Time and randomness as ports, so tests can move time and pin ids.

use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved; for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    pub fn advance(&self, by: TimeDelta) {
        *self.lock() += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.lock() = to;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A poisoned lock still holds a valid instant: recover it.
        self.now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

/// Ids and secret random bytes.
pub trait Random: Send + Sync + fmt::Debug {
    /// A new unique id, ordered by creation time (UUIDv7).
    fn id(&self) -> Uuid;

    /// `N` bytes from a cryptographically secure source.
    fn bytes<const N: usize>(&self) -> [u8; N]
    where
        Self: Sized;

    /// Fills `buf` from a cryptographically secure source.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's secure random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn id(&self) -> Uuid {
        Uuid::now_v7()
    }

    fn bytes<const N: usize>(&self) -> [u8; N] {
        let mut buf = [0u8; N];
        self.fill(&mut buf);
        buf
    }

    fn fill(&self, buf: &mut [u8]) {
        // Without a working OS random source no token or key can be made safely; there is
        // nothing sensible to continue with.
        #[allow(clippy::expect_used)]
        getrandom::fill(buf).expect("the operating system's random source failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(TimeDelta::seconds(90));
        assert_eq!(clock.now(), start + TimeDelta::seconds(90));
    }

    #[test]
    fn random_ids_are_unique_and_time_ordered() {
        let a = OsRandom.id();
        let b = OsRandom.id();
        assert_ne!(a, b);
        assert!(a < b);
        assert_ne!(OsRandom.bytes::<32>(), [0u8; 32]);
    }
}
