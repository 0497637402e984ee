//! What the messaging cases share: the ports, the table's stream as the relay's event source
//! mapping reads it, a counting reaction, a queue that fails on cue, and stream events built
//! from outbox items.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_lambda_events::dynamodb::Event as StreamEvent;
use aws_lambda_events::streams::DynamoDbEventResponse;
use chrono::Utc;
use functions::messaging::reaction::{Reaction, Reactions};
use functions::trigger::StreamHandler;
use infra::store::sqlite::{Change, ChangeKind, LocalStore};
use local_system::feed_pump::{BATCH, FeedPump, stream_event};
use serde_json::{Value, json};
use shared::clock::{Clock, SystemClock};
use shared::messaging::event::{Event, EventType};
use shared::messaging::outbox::{outbox_key, outbox_write};
use shared::queue::{Queue, QueueError, ReceivedMessage};
use shared::store::{Condition, Item, ItemStore, Key, Write};
use tests::stream::{Pumped, StreamPump};
use uuid::Uuid;

use crate::conformance::eventually;

/// The ports of one pipeline, fresh per test.
pub struct Ctx {
    pub store: Arc<dyn ItemStore>,
    pub events: Arc<dyn Queue>,
    pub jobs: Arc<dyn Queue>,
    /// The store's changes, as the relay's trigger delivers them.
    pub stream: Arc<dyn RelayStream>,
}

/// The table's change stream, read for the relay as its event source mapping reads it: the
/// local change feed through the feed pump, or the emulator's DynamoDB stream through
/// `GetRecords`.
#[async_trait]
pub trait RelayStream: Send + Sync {
    /// Hands the next batch to `relay` and moves past what it did not report failed.
    async fn pump_once(&self, relay: Arc<dyn StreamHandler>) -> anyhow::Result<Pumped>;
    /// The next batch, neither delivered nor consumed.
    async fn peek(&self) -> anyhow::Result<StreamEvent>;
}

/// The local change feed, from its start, under a consumer of its own.
pub struct LocalFeed {
    pub store: Arc<LocalStore>,
}

const FEED_CONSUMER: &str = "relay";

#[async_trait]
impl RelayStream for LocalFeed {
    async fn pump_once(&self, relay: Arc<dyn StreamHandler>) -> anyhow::Result<Pumped> {
        let outcome = FeedPump::new(FEED_CONSUMER, self.store.clone(), relay)
            .pump_once()
            .await?;
        Ok(Pumped {
            read: outcome.delivered,
            delivered: outcome.delivered,
            failed_at: outcome.failed_at.map(|seq| seq.to_string()),
        })
    }

    async fn peek(&self) -> anyhow::Result<StreamEvent> {
        let position = self.store.feed_position(FEED_CONSUMER).await?;
        stream_event(&self.store.changes_after(position, BATCH).await?)
    }
}

#[async_trait]
impl RelayStream for StreamPump {
    async fn pump_once(&self, relay: Arc<dyn StreamHandler>) -> anyhow::Result<Pumped> {
        StreamPump::pump_once(self, relay.as_ref()).await
    }

    async fn peek(&self) -> anyhow::Result<StreamEvent> {
        StreamPump::peek(self).await
    }
}

/// A stream handler that keeps every batch it is handed, and passes it on.
#[derive(Debug)]
pub struct Recording {
    inner: Arc<dyn StreamHandler>,
    pub batches: Mutex<Vec<StreamEvent>>,
}

impl Recording {
    pub fn new(inner: Arc<dyn StreamHandler>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            batches: Mutex::default(),
        })
    }
}

#[async_trait]
impl StreamHandler for Recording {
    async fn handle(&self, event: StreamEvent) -> anyhow::Result<DynamoDbEventResponse> {
        self.batches.lock().unwrap().push(event.clone());
        self.inner.handle(event).await
    }
}

impl Ctx {
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }
}

/// A user-registered event about a fresh aggregate.
pub fn registered() -> Event {
    let user = Uuid::now_v7().to_string();
    Event::new(
        Uuid::now_v7(),
        EventType::UserRegistered,
        &user,
        json!({"user_id": user}),
        Utc::now(),
    )
}

/// Writes a change (a user item) and its event in one transaction.
pub async fn write_with_change(store: &dyn ItemStore, event: &Event) -> anyhow::Result<()> {
    let attrs = json!({"name": "Ada"}).as_object().cloned().unwrap();
    let user = Item::new(
        Key::new(format!("USER#{}", event.aggregate_id), "USER"),
        attrs,
    );
    store
        .transact(vec![Write::put(user), outbox_write(event)])
        .await
        .context("writing a change with its event")
}

/// The stream record an insert of `item` makes, at position `seq`.
pub fn insert(seq: u64, item: Item) -> Change {
    Change {
        seq,
        kind: ChangeKind::Insert,
        key: item.key.clone(),
        old: None,
        new: Some(item),
        at: Utc::now(),
        expired: false,
    }
}

/// The stored outbox item of an event.
pub async fn outbox_item(store: &dyn ItemStore, event: &Event) -> anyhow::Result<Item> {
    store
        .get(&outbox_key(event.id))
        .await?
        .with_context(|| format!("no outbox item for event {}", event.id))
}

/// The stream event that inserts these events' outbox items, numbered from 1.
pub async fn stream_of(store: &dyn ItemStore, events: &[&Event]) -> anyhow::Result<StreamEvent> {
    let mut changes = Vec::new();
    for (seq, event) in (1..).zip(events) {
        changes.push(insert(seq, outbox_item(store, event).await?));
    }
    stream_event(&changes)
}

/// Whether the outbox item of an event is marked relayed (and so out of the pending index).
pub async fn is_relayed(store: &dyn ItemStore, event: &Event) -> anyhow::Result<bool> {
    let item = outbox_item(store, event).await?;
    let relayed = item.attrs.contains_key("relayed_at");
    if relayed != item.gsi1.is_none() || relayed != item.expires_at.is_some() {
        bail!("a half-marked outbox item: {item:?}");
    }
    Ok(relayed)
}

/// Receives (and deletes) messages until `n` arrived; fails if more arrive meanwhile.
pub async fn receive_n(queue: &dyn Queue, n: usize) -> anyhow::Result<Vec<ReceivedMessage>> {
    let received = Mutex::new(Vec::new());
    eventually(&format!("{n} messages"), || async {
        let batch = queue
            .receive(10, Duration::from_secs(60), Duration::from_secs(1))
            .await?;
        for message in &batch {
            queue.delete(&message.receipt).await?;
        }
        let mut received = received.lock().unwrap();
        received.extend(batch);
        Ok((received.len() >= n).then_some(()))
    })
    .await?;
    let received = received.into_inner().unwrap();
    assert_eq!(received.len(), n, "more messages than expected");
    Ok(received)
}

/// The events carried by messages.
pub fn events_of(messages: &[ReceivedMessage]) -> anyhow::Result<Vec<Event>> {
    messages
        .iter()
        .map(|m| serde_json::from_str(&m.body).context("a message that is not an event"))
        .collect()
}

/// A reaction that counts the events it sees per aggregate, in a `TALLY#<aggregate>` item,
/// with a read and a conditional write: running it twice on one event would count two. It
/// fails the first `fail_first` times it is asked.
#[derive(Debug)]
pub struct Tally {
    name: String,
    store: Arc<dyn ItemStore>,
    fail_first: AtomicUsize,
}

impl Tally {
    pub fn new(name: &str, store: Arc<dyn ItemStore>) -> Arc<Self> {
        Self::failing(name, store, 0)
    }

    pub fn failing(name: &str, store: Arc<dyn ItemStore>, times: usize) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            store,
            fail_first: AtomicUsize::new(times),
        })
    }

    fn key(&self, aggregate: &str) -> Key {
        Key::new(format!("TALLY#{aggregate}"), self.name.clone())
    }

    /// How many events of this aggregate it counted.
    pub async fn count(&self, aggregate: &str) -> anyhow::Result<i64> {
        let item = self.store.get(&self.key(aggregate)).await?;
        Ok(item
            .and_then(|i| i.attrs.get("count").and_then(Value::as_i64))
            .unwrap_or(0))
    }

    /// The reactions table with this tally on user registrations.
    pub fn on_registered(self: &Arc<Self>) -> anyhow::Result<Reactions> {
        Reactions::new().on(EventType::UserRegistered, self.clone())
    }
}

#[async_trait]
impl Reaction for Tally {
    fn name(&self) -> &str {
        &self.name
    }

    async fn react(&self, event: &Event) -> anyhow::Result<Vec<Write>> {
        if self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            bail!("the tally {} fails on cue", self.name);
        }
        let key = self.key(&event.aggregate_id);
        let count = self.count(&event.aggregate_id).await?;
        let attrs = json!({"count": count + 1}).as_object().cloned().unwrap();
        let condition = match count {
            0 => Condition::Absent,
            n => Condition::Equals("count".into(), json!(n)),
        };
        Ok(vec![Write::put_if(Item::new(key, attrs), condition)])
    }
}

/// A queue that fails its `nth` send (counting from 1) and forwards every other call.
#[derive(Debug)]
pub struct FailingSend {
    inner: Arc<dyn Queue>,
    nth: usize,
    sends: AtomicUsize,
}

impl FailingSend {
    pub fn new(inner: Arc<dyn Queue>, nth: usize) -> Arc<Self> {
        Arc::new(Self {
            inner,
            nth,
            sends: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Queue for FailingSend {
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError> {
        if self.sends.fetch_add(1, Ordering::SeqCst) + 1 == self.nth {
            return Err(QueueError::Unexpected(anyhow::anyhow!(
                "send {} fails on cue",
                self.nth
            )));
        }
        self.inner.send(body, delay).await
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.inner.receive(max, visibility, wait).await
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.inner.delete(receipt).await
    }

    async fn set_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        self.inner.set_visibility(receipt, timeout).await
    }
}
