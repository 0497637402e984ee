//! The transactional outbox: events stored in the same transaction as the change they describe.
//!
//! A use case adds [`outbox_write`] for each of its events to the writes of its own change and
//! commits them with one [`ItemStore::transact`] (one `TransactWriteItems` on AWS): either the
//! change and its events exist, or neither does. Publishing happens later, from the store's
//! change feed (the relay), and, for anything the feed lost, from a scheduled reconciliation
//! that asks [`pending_older_than`].
//!
//! An outbox item is keyed `OUTBOX#<event id>`. While pending it sits in the pending index
//! (`gsi1`: `OUTBOX#PENDING#<shard>`, sorted by `<occurred_at>#<id>`); [`mark_relayed`] takes
//! it out of the index, stamps `relayed_at` and lets it expire a week later, long enough to
//! audit. Every event of every use case enters and leaves the index, so it is spread over
//! [`PENDING_SHARDS`] keys by the random end of the event's id (one key takes about 1,000
//! writes a second); the reconciliation reads every shard, and so does [`pending_summary`],
//! the operator's count of the backlog.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::messaging::event::Event;
use crate::store::{
    Condition, Index, IndexKey, Item, ItemStore, Key, Query, SortKey, StoreError, Write,
};

/// The partition key prefix of outbox items; the sort key is [`OUTBOX_SK`].
pub const OUTBOX_PREFIX: &str = "OUTBOX#";
pub const OUTBOX_SK: &str = "EVENT";

/// How many keys the pending index is spread over.
pub const PENDING_SHARDS: u8 = 16;

/// One shard of the pending index (in [`Index::Gsi1`]).
pub fn pending_partition(shard: u8) -> String {
    format!("OUTBOX#PENDING#{shard}")
}

fn shard_of(event_id: Uuid) -> u8 {
    event_id.as_bytes()[15] % PENDING_SHARDS
}

/// How long a relayed event stays in the outbox.
pub const RETENTION: TimeDelta = TimeDelta::days(7);

/// The attribute that marks an event relayed.
const RELAYED_AT: &str = "relayed_at";

/// The stored form of an outbox item's attributes.
#[derive(Debug, Serialize, Deserialize)]
struct OutboxRecord {
    #[serde(flatten)]
    event: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    relayed_at: Option<DateTime<Utc>>,
}

/// The key of an event's outbox item.
pub fn outbox_key(event_id: Uuid) -> Key {
    Key::new(format!("{OUTBOX_PREFIX}{event_id}"), OUTBOX_SK)
}

/// Whether a key is an outbox item's.
pub fn is_outbox_key(key: &Key) -> bool {
    key.pk.starts_with(OUTBOX_PREFIX) && key.sk == OUTBOX_SK
}

/// The write that stores a pending event; add it to the transaction of the change it
/// describes. It fails the transaction if an event with the same id was ever stored (and is
/// still kept), so replaying a use case cannot publish an event twice.
pub fn outbox_write(event: &Event) -> Write {
    let sort = format!("{}#{}", sort_time(event.occurred_at), event.id);
    let pending = IndexKey::new(pending_partition(shard_of(event.id)), sort);
    let item = record_item(event, None).with_index(Index::Gsi1, pending);
    Write::put_if(item, Condition::Absent)
}

/// Marks a pending event relayed: out of the pending index, kept for [`RETENTION`] from `now`.
/// Returns `false` when it was relayed already (or is gone), which is not an error: the relay
/// and the reconciliation may both publish an event, and consumers deduplicate.
pub async fn mark_relayed(
    store: &dyn ItemStore,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let item = record_item(event, Some(now)).expiring_at(now + RETENTION);
    match store
        .put(item, Some(Condition::Missing(RELAYED_AT.into())))
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Up to `limit` events still pending that occurred more than `age` before `now`, oldest first.
/// The pending index is eventually consistent on AWS: an event relayed a moment ago may still
/// be listed.
pub async fn pending_older_than(
    store: &dyn ItemStore,
    age: TimeDelta,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let cutoff = sort_time(now - age);
    let reads = (0..PENDING_SHARDS).map(|shard| pending_in(store, shard, &cutoff, limit));
    let mut events: Vec<Event> = futures_util::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .collect();
    events.sort_by_key(|e| (e.occurred_at, e.id));
    events.truncate(limit);
    Ok(events)
}

/// Up to `limit` pending events of one shard sorted before `cutoff`, oldest first.
async fn pending_in(
    store: &dyn ItemStore,
    shard: u8,
    cutoff: &str,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let mut events = Vec::new();
    let mut cursor = None;
    while events.len() < limit {
        let page = store
            .query(
                Query::index(Index::Gsi1, pending_partition(shard))
                    .sort_key(SortKey::LessThan(cutoff.to_owned()))
                    .limit((limit - events.len()).min(1000))
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            events.push(event_of(item)?);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(events)
}

/// The backlog of the outbox: what the relay has not published yet.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PendingSummary {
    /// Events still pending.
    pub count: usize,
    /// Of those, the ones that occurred before the cutoff asked for: what the reconciliation
    /// would publish now.
    pub older_than_cutoff: usize,
    /// The oldest pending event: when it occurred, its id and type.
    pub oldest: Option<Event>,
}

/// Counts every pending event, shard by shard to the end of each: an operator's question, not a
/// hot path (one read per 1,000 pending events and shard). Like [`pending_older_than`], it may
/// count an event the relay published a moment ago.
pub async fn pending_summary(
    store: &dyn ItemStore,
    cutoff: DateTime<Utc>,
) -> Result<PendingSummary, StoreError> {
    let shards = (0..PENDING_SHARDS).map(|shard| pending_summary_of(store, shard, cutoff));
    let mut summary = PendingSummary::default();
    for shard in futures_util::future::try_join_all(shards).await? {
        summary.count += shard.count;
        summary.older_than_cutoff += shard.older_than_cutoff;
        summary.oldest = [summary.oldest.take(), shard.oldest]
            .into_iter()
            .flatten()
            .min_by_key(|e| (e.occurred_at, e.id));
    }
    Ok(summary)
}

async fn pending_summary_of(
    store: &dyn ItemStore,
    shard: u8,
    cutoff: DateTime<Utc>,
) -> Result<PendingSummary, StoreError> {
    let mut summary = PendingSummary::default();
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::index(Index::Gsi1, pending_partition(shard))
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            let event = event_of(item)?;
            summary.count += 1;
            if event.occurred_at < cutoff {
                summary.older_than_cutoff += 1;
            }
            // The shard is sorted by occurrence: its first event is its oldest.
            summary.oldest.get_or_insert(event);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(summary),
        }
    }
}

/// The event an outbox item holds.
pub fn event_of(item: &Item) -> Result<Event, StoreError> {
    Ok(item.record::<OutboxRecord>()?.event)
}

fn record_item(event: &Event, relayed_at: Option<DateTime<Utc>>) -> Item {
    let record = OutboxRecord {
        event: event.clone(),
        relayed_at,
    };
    // A struct with a flattened struct serializes to a JSON object, and none of its field
    // names is reserved by the store: this cannot fail.
    #[allow(clippy::expect_used)]
    Item::from_record(outbox_key(event.id), &record).expect("an outbox record is a JSON object")
}

/// A time as a fixed-width, lexicographically ordered string.
fn sort_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messaging::event::EventType;
    use serde_json::json;

    fn event() -> Event {
        let at = DateTime::from_timestamp(1_764_111_250, 5_000_000).unwrap();
        Event::new(
            Uuid::nil(),
            EventType::UserDeleted,
            "u-1",
            json!({"n": 1}),
            at,
        )
    }

    #[test]
    fn a_pending_event_is_in_the_pending_index_and_never_overwrites() {
        let Write::Put { item, condition } = outbox_write(&event()) else {
            panic!("not a put")
        };
        assert_eq!(condition, Some(Condition::Absent));
        assert!(is_outbox_key(&item.key));
        assert_eq!(item.key.pk, format!("OUTBOX#{}", Uuid::nil()));
        let expected = format!("2025-11-25T22:54:10.005Z#{}", Uuid::nil());
        let shard = pending_partition(Uuid::nil().as_bytes()[15] % PENDING_SHARDS);
        assert_eq!(item.gsi1, Some(IndexKey::new(shard, expected)));
        assert_eq!(item.expires_at, None);
        assert_eq!(item.attrs["type"], "user.deleted");
        assert!(item.check_attribute_names().is_ok());
        assert_eq!(event_of(&item).ok(), Some(event()));
    }

    #[test]
    fn sort_times_order_as_the_times_do() {
        let a = DateTime::from_timestamp(9, 0).unwrap();
        let b = DateTime::from_timestamp(10, 0).unwrap();
        assert!(sort_time(a) < sort_time(b));
    }
}
