//! Idempotency keys: the first delivery of a request runs; a retry with the same key gets the
//! first one's answer instead of a second effect.
//!
//! One record per scope (the caller, or for anonymous calls the route) and key, under
//! [`PREFIX`]:
//!
//! - **in flight**: taken with a put conditional on no live record, expiring at the request's
//!   deadline, so a holder that crashed frees it by itself;
//! - **applied**: written inside the use case's own transaction when it has one (see
//!   [`Marking`]): the effect is committed even if the answer never gets stored;
//! - **done**: the answer (status, the headers worth replaying, the body), kept for
//!   [`RETENTION`] from the first delivery. Expiry is checked on every read, since TTL deletion
//!   lags.
//!
//! A key is never stored: the record's key is a digest of the scope and the key.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::clock::{Clock, Random};
use crate::store::{
    Condition, Item, ItemStore, Key, MAX_TRANSACTION_WRITES, Page, Query, StoreError, Write,
};

/// The partition prefix of idempotency records.
pub const PREFIX: &str = "IDEM#";
const SORT_KEY: &str = "IDEM";

/// How long an answer is replayed, from the first delivery.
pub const RETENTION: TimeDelta = TimeDelta::hours(24);

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    InFlight,
    Applied,
    Done,
}

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body, base64.
    body: String,
}

impl Answer {
    pub fn new(status: u16, headers: Vec<(String, String)>, body: &[u8]) -> Self {
        Self {
            status,
            headers,
            body: STANDARD.encode(body),
        }
    }

    pub fn body(&self) -> Result<Vec<u8>, StoreError> {
        STANDARD
            .decode(&self.body)
            .map_err(|e| StoreError::Unexpected(anyhow::Error::new(e).context("a stored answer")))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    state: State,
    /// SHA-256 of the canonical request, hex.
    fingerprint: String,
    /// Who holds the record: the delivery that took it.
    lock: Uuid,
    created_at: DateTime<Utc>,
    /// Until when the delivery that holds it may still be running.
    held_until: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer: Option<Answer>,
}

/// What a delivery finds when it claims a key.
#[derive(Debug)]
pub enum Claim {
    /// The first delivery: run it, then [`Idempotency::complete`] or [`Idempotency::release`].
    Acquired(Ticket),
    /// An earlier delivery's answer.
    Replay(Answer),
    /// An earlier delivery is still running.
    InFlight,
    /// An earlier delivery's effect was committed, but its answer was not stored.
    Applied,
    /// The key was used for a different request.
    Mismatch,
}

/// A delivery's hold on its key.
#[derive(Debug, Clone)]
pub struct Ticket {
    key: Key,
    lock: Uuid,
    fingerprint: String,
    created_at: DateTime<Utc>,
    held_until: DateTime<Utc>,
}

impl Ticket {
    fn record(&self, state: State, answer: Option<Answer>) -> Record {
        Record {
            state,
            fingerprint: self.fingerprint.clone(),
            lock: self.lock,
            created_at: self.created_at,
            held_until: self.held_until,
            answer,
        }
    }

    fn item(&self, state: State, answer: Option<Answer>) -> Result<Item, StoreError> {
        let item = Item::from_record(self.key.clone(), &self.record(state, answer))?;
        Ok(item.expiring_at(self.created_at + RETENTION))
    }

    /// Holds only while this delivery's lock does.
    fn held(&self) -> Condition {
        Condition::Equals("lock".to_owned(), json!(self.lock))
    }

    /// The write that records the effect as committed, for the use case's transaction.
    pub fn applied(&self) -> Result<Write, StoreError> {
        Ok(Write::put_if(self.item(State::Applied, None)?, self.held()))
    }
}

/// The records of idempotency keys.
#[derive(Debug, Clone)]
pub struct Idempotency {
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

impl Idempotency {
    pub fn new(store: Arc<dyn ItemStore>, clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Self {
        Self {
            store,
            clock,
            random,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Claims `key` in `scope` for a request with `fingerprint`, held until `deadline` unless
    /// completed.
    pub async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        deadline: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let record_key = record_key(scope, key);
        // Twice: a record that expires between the put and the read is gone for the second.
        for _ in 0..2 {
            let ticket = Ticket {
                key: record_key.clone(),
                lock: self.random.id(),
                fingerprint: fingerprint.to_owned(),
                created_at: self.clock.now(),
                held_until: deadline,
            };
            let item =
                Item::from_record(record_key.clone(), &ticket.record(State::InFlight, None))?
                    .expiring_at(deadline);
            match self.store.put(item, Some(Condition::Absent)).await {
                Ok(()) => return Ok(Claim::Acquired(ticket)),
                Err(e) if e.is_condition_failed() => {}
                Err(e) => return Err(e),
            }
            let Some(found) = self.store.get(&record_key).await? else {
                continue;
            };
            let record: Record = found.record()?;
            if record.fingerprint != fingerprint {
                return Ok(Claim::Mismatch);
            }
            // Applied while its delivery may still be running: it is storing its answer.
            let running = self.clock.now() < record.held_until;
            return Ok(match (record.state, record.answer) {
                (State::Done, Some(answer)) => Claim::Replay(answer),
                (State::InFlight, _) => Claim::InFlight,
                (State::Applied, _) if running => Claim::InFlight,
                (State::Applied | State::Done, _) => Claim::Applied,
            });
        }
        Ok(Claim::InFlight)
    }

    /// Stores the answer of the delivery holding `ticket`.
    pub async fn complete(&self, ticket: &Ticket, answer: Answer) -> Result<(), StoreError> {
        let item = ticket.item(State::Done, Some(answer))?;
        self.store.put(item, Some(ticket.held())).await
    }

    /// Gives the key up, so a retry runs again (after an answer that says nothing happened).
    pub async fn release(&self, ticket: &Ticket) -> Result<(), StoreError> {
        self.store.delete(&ticket.key, Some(ticket.held())).await
    }
}

fn record_key(scope: &str, key: &str) -> Key {
    let digest = Sha256::new()
        .chain_update(scope.as_bytes())
        .chain_update([0])
        .chain_update(key.as_bytes())
        .finalize();
    Key::new(format!("{PREFIX}{}", hex::encode(digest)), SORT_KEY)
}

/// Whether `key` may be an idempotency key: 1 to [`MAX_KEY_LEN`] visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// SHA-256 (hex) of a request: its method, path, query and body. A JSON body counts by its
/// value, so key order and whitespace do not make two requests differ.
pub fn fingerprint(method: &str, path: &str, query: Option<&str>, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [method, path, query.unwrap_or("")] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => hasher.update(canonical(&value).as_bytes()),
        Err(_) => hasher.update(body),
    }
    hex::encode(hasher.finalize())
}

/// `value` as JSON with every object's keys sorted and no whitespace.
fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", json!(k), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        serde_json::Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

tokio::task_local! {
    /// The applied-write of the request being handled, for [`Marking`] to add to its
    /// transaction.
    static PENDING: Pending;
}

/// The applied-write of one delivery, taken by the first transaction that commits.
#[derive(Debug, Clone)]
pub struct Pending(Arc<Mutex<PendingState>>);

#[derive(Debug)]
struct PendingState {
    write: Option<Write>,
    applied: bool,
}

impl Pending {
    pub fn new(ticket: &Ticket) -> Result<Self, StoreError> {
        Ok(Self(Arc::new(Mutex::new(PendingState {
            write: Some(ticket.applied()?),
            applied: false,
        }))))
    }

    /// Runs `work` with this delivery's applied-write available to [`Marking`] stores.
    pub async fn scope<F: Future>(&self, work: F) -> F::Output {
        PENDING.scope(self.clone(), work).await
    }

    /// Whether a transaction committed the applied-write.
    pub fn applied(&self) -> bool {
        self.lock().applied
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PendingState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A store that adds the applied-write of the request in progress (if any) to the first
/// transaction that has room for it, so the use case's effect and the record that it happened
/// commit together.
pub struct Marking {
    inner: Arc<dyn ItemStore>,
}

impl Marking {
    pub fn new(inner: Arc<dyn ItemStore>) -> Self {
        Self { inner }
    }

    /// `writes`, with the request's marker when it has one left to write.
    async fn transact_marked(
        &self,
        mut writes: Vec<Write>,
        fail_safe: bool,
    ) -> Result<(), StoreError> {
        let transact = |writes| match fail_safe {
            true => self.inner.transact_fail_safe(writes),
            false => self.inner.transact(writes),
        };
        let pending = PENDING.try_with(Clone::clone).ok();
        let marker = pending
            .as_ref()
            .filter(|_| writes.len() < MAX_TRANSACTION_WRITES)
            .and_then(|p| p.lock().write.take());
        let Some((pending, marker)) = pending.zip(marker) else {
            return transact(writes).await;
        };
        let at = writes.len();
        writes.push(marker.clone());
        match transact(writes).await {
            Ok(()) => {
                pending.lock().applied = true;
                Ok(())
            }
            // The lock was lost (the delivery outlived its deadline and another took the key):
            // not the use case's own condition, so not its error either.
            Err(StoreError::ConditionFailed { index }) if index == at => {
                Err(StoreError::Unexpected(anyhow::anyhow!(
                    "the idempotency key was taken over while its request ran"
                )))
            }
            Err(e) => {
                // Nothing was written: a later transaction of the request may carry it.
                pending.lock().write = Some(marker);
                Err(e)
            }
        }
    }
}

impl fmt::Debug for Marking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Marking").field(&self.inner).finish()
    }
}

#[async_trait]
impl ItemStore for Marking {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError> {
        self.inner.delete(key, condition).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.transact_marked(writes, false).await
    }

    /// The marker commits as the writes it rides with: lost with them, never without them.
    async fn transact_fail_safe(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.transact_marked(writes, true).await
    }

    async fn add(
        &self,
        key: &Key,
        attribute: &str,
        delta: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError> {
        self.inner.add(key, attribute, delta, expires_at).await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }

    async fn purge_expired(&self, limit: usize) -> Result<usize, StoreError> {
        self.inner.purge_expired(limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_body_counts_by_its_value() {
        let a = fingerprint("POST", "/x", None, br#"{"a":1,"b":[1,{"d":2,"c":3}]}"#);
        let b = fingerprint(
            "POST",
            "/x",
            None,
            b"{ \"b\": [1, {\"c\":3, \"d\":2}], \"a\": 1 }",
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            fingerprint("POST", "/x", None, br#"{"a":2,"b":[1,{"d":2,"c":3}]}"#)
        );
        assert_ne!(
            a,
            fingerprint("POST", "/y", None, br#"{"a":1,"b":[1,{"d":2,"c":3}]}"#)
        );
        assert_ne!(
            a,
            fingerprint("PATCH", "/x", None, br#"{"a":1,"b":[1,{"d":2,"c":3}]}"#)
        );
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(valid_key("3f1c-retry_1"));
        assert!(!valid_key(""));
        assert!(!valid_key("has space"));
        assert!(!valid_key("ünïcode"));
        assert!(!valid_key(&"k".repeat(MAX_KEY_LEN + 1)));
    }

    #[test]
    fn the_stored_key_names_neither_the_caller_nor_the_key() {
        let key = record_key("user:42", "secret-looking-key");
        assert!(key.pk.starts_with(PREFIX));
        assert!(!key.pk.contains("secret"), "{}", key.pk);
        assert_ne!(key, record_key("user:43", "secret-looking-key"));
    }
}
