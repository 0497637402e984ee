//! The inbox: which consumer has already acted on which event.
//!
//! Delivery is at least once, so a consumer meets some events twice. It records each (event,
//! consumer) pair with [`inbox_claim`], a put that fails when the pair is already recorded,
//! and it puts the claim *in the same transaction as its effect*. A duplicate delivery then
//! fails the claim and the whole transaction, so it has no second effect, and the consumer
//! acknowledges it.
//!
//! Claiming first and acting afterwards would be weaker: a crash (or a failed write) between
//! the claim and the effect leaves an event claimed but never acted on, and every redelivery
//! would be skipped as a duplicate, so the effect would be lost. Acting first and claiming
//! afterwards would repeat the effect on a crash in between. Only one transaction holding
//! both gives exactly one effect.
//!
//! Claims expire after [`RETENTION`], longer than SQS keeps a message (at most 14 days from its
//! first send, dead-letter queues included), so no redelivery can outlive its claim.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::{Condition, Item, ItemStore, Key, StoreError, Write};

/// The partition key prefix of claims: `INBOX#<event id>`, sort key the consumer's name.
pub const INBOX_PREFIX: &str = "INBOX#";

/// How long a claim is kept: longer than SQS's longest retention (14 days).
pub const RETENTION: TimeDelta = TimeDelta::days(15);

#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    event_id: Uuid,
    consumer: String,
    claimed_at: DateTime<Utc>,
}

/// The key of the claim of `consumer` on an event.
pub fn inbox_key(event_id: Uuid, consumer: &str) -> Key {
    Key::new(format!("{INBOX_PREFIX}{event_id}"), consumer)
}

/// The write that claims an event for a consumer; it fails when the consumer claimed the event
/// before. Put it in the transaction of the consumer's effect (see the module documentation).
pub fn inbox_claim(event_id: Uuid, consumer: &str, now: DateTime<Utc>) -> Write {
    let claim = Claim {
        event_id,
        consumer: consumer.to_owned(),
        claimed_at: now,
    };
    // A struct of a uuid, a string and a time serializes to a JSON object: this cannot fail.
    #[allow(clippy::expect_used)]
    let item = Item::from_record(inbox_key(event_id, consumer), &claim)
        .expect("a claim is a JSON object")
        .expiring_at(now + RETENTION);
    Write::put_if(item, Condition::Absent)
}

/// What [`apply_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The effect was written, with the claim.
    Applied,
    /// The consumer had claimed the event before: nothing was written.
    Duplicate,
}

/// Writes `effect` together with the claim of `consumer` on `event_id`, unless the consumer
/// claimed the event before. A failed condition of the effect's own writes stays an error,
/// with the index of that write in `effect`.
pub async fn apply_once(
    store: &dyn ItemStore,
    event_id: Uuid,
    consumer: &str,
    now: DateTime<Utc>,
    effect: Vec<Write>,
) -> Result<Applied, StoreError> {
    let mut writes = Vec::with_capacity(effect.len() + 1);
    writes.push(inbox_claim(event_id, consumer, now));
    writes.extend(effect);
    match store.transact(writes).await {
        Ok(()) => Ok(Applied::Applied),
        Err(StoreError::ConditionFailed { index: 0 }) => Ok(Applied::Duplicate),
        Err(StoreError::ConditionFailed { index }) => {
            Err(StoreError::ConditionFailed { index: index - 1 })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_a_conditional_put_that_outlives_any_redelivery() {
        let now = DateTime::from_timestamp(1_764_111_250, 0).unwrap();
        let Write::Put { item, condition } = inbox_claim(Uuid::nil(), "welcome", now) else {
            panic!("not a put")
        };
        assert_eq!(condition, Some(Condition::Absent));
        assert_eq!(item.key, inbox_key(Uuid::nil(), "welcome"));
        assert!(
            item.expires_at
                .is_some_and(|at| at - now > TimeDelta::days(14))
        );
        assert!(item.check_attribute_names().is_ok());
    }
}
