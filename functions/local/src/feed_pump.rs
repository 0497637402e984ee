//! The local DynamoDB Streams event source mapping: reads the local store's change feed in
//! order, hands batches to a [`StreamHandler`] as a real stream [`Event`], and moves the
//! consumer's saved position past what succeeded.
//!
//! As on Lambda with `ReportBatchItemFailures`: processing resumes at the first record the
//! handler reports failed; a handler error, or a failure naming no record of the batch, retries
//! the whole batch. Unlike Lambda there is no retry limit: a record that always fails blocks its
//! consumer (and says so in the log) until the handler is fixed.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::dynamodb::{Event, EventRecord, StreamRecord, StreamViewType, UserIdentity};
use infra::store::sqlite::{Change, ChangeKind, LocalStore};
use shared::store::Key;
use shared::store::wire;
use tokio::sync::watch;

use functions::trigger::StreamHandler;

/// The table name in local stream ARNs.
pub const TABLE: &str = "local";

/// Records per batch (the event source mapping's `BatchSize`).
pub const BATCH: usize = 100;

/// How long to wait before looking at an idle feed again, or retrying a failed batch.
const IDLE: Duration = Duration::from_millis(200);
const RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct FeedPump {
    consumer: String,
    store: Arc<LocalStore>,
    handler: Arc<dyn StreamHandler>,
    batch: usize,
}

/// What one batch came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedOutcome {
    /// Records handed to the handler.
    pub delivered: usize,
    /// The consumer's position after the batch.
    pub position: u64,
    /// The sequence number processing resumes at, when part of the batch failed.
    pub failed_at: Option<u64>,
}

impl FeedPump {
    /// A pump for one consumer; its position is kept in the store under `consumer`.
    pub fn new(
        consumer: impl Into<String>,
        store: Arc<LocalStore>,
        handler: Arc<dyn StreamHandler>,
    ) -> Self {
        Self {
            consumer: consumer.into(),
            store,
            handler,
            batch: BATCH,
        }
    }

    pub fn with_batch(self, batch: usize) -> Self {
        Self {
            batch: batch.max(1),
            ..self
        }
    }

    /// Delivers the next batch after the consumer's position, if there is one.
    pub async fn pump_once(&self) -> anyhow::Result<FeedOutcome> {
        let position = self.store.feed_position(&self.consumer).await?;
        let changes = self.store.changes_after(position, self.batch).await?;
        if changes.is_empty() {
            return Ok(FeedOutcome {
                delivered: 0,
                position,
                failed_at: None,
            });
        }
        let event = stream_event(&changes)?;
        let failed_at = match self.handler.handle(event).await {
            Ok(response) => {
                let named: Vec<Option<u64>> = response
                    .batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.as_deref().and_then(|id| id.parse().ok()))
                    .map(|seq| seq.filter(|seq| changes.iter().any(|c| c.seq == *seq)))
                    .collect();
                if named.iter().all(Option::is_some) {
                    named.into_iter().flatten().min()
                } else {
                    tracing::warn!(consumer = %self.consumer, "a batch item failure names no record of the batch; retrying the batch");
                    Some(changes[0].seq)
                }
            }
            Err(error) => {
                tracing::error!(consumer = %self.consumer, error = %format_args!("{error:#}"), "the batch failed");
                Some(changes[0].seq)
            }
        };
        let done = changes
            .iter()
            .take_while(|c| failed_at.is_none_or(|failed| c.seq < failed));
        let new_position = done.last().map_or(position, |c| c.seq);
        if new_position != position {
            self.store
                .set_feed_position(&self.consumer, new_position)
                .await
                .with_context(|| format!("saving the feed position of {}", self.consumer))?;
        }
        Ok(FeedOutcome {
            delivered: changes.len(),
            position: new_position,
            failed_at,
        })
    }

    /// Pumps until `shutdown` turns true; a batch in flight is finished first. An idle pump
    /// wakes when a write of this process commits, or after [`IDLE`] for anyone else's.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let changes = self.store.feed_changes();
        loop {
            if *shutdown.borrow() {
                return;
            }
            // Listening before reading, so a commit during the read is not missed.
            let committed = changes.notified();
            tokio::pin!(committed);
            committed.as_mut().enable();
            let pause = match self.pump_once().await {
                Ok(outcome) if outcome.failed_at.is_some() => RETRY,
                Ok(outcome) if outcome.delivered == 0 => IDLE,
                Ok(_) => Duration::ZERO,
                Err(error) => {
                    tracing::error!(consumer = %self.consumer, error = %format_args!("{error:#}"), "feed pump failed");
                    RETRY
                }
            };
            if pause == IDLE {
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(pause) => {}
                    () = &mut committed => {}
                }
            } else if !pause.is_zero() {
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

/// The event Lambda's DynamoDB Streams event source mapping delivers for a batch of changes.
pub fn stream_event(changes: &[Change]) -> anyhow::Result<Event> {
    let mut event = Event::default();
    event.records = changes
        .iter()
        .map(stream_record)
        .collect::<anyhow::Result<_>>()?;
    Ok(event)
}

fn stream_record(change: &Change) -> anyhow::Result<EventRecord> {
    let mut stream = StreamRecord::default();
    stream.approximate_creation_date_time = change.at;
    stream.keys = key_image(&change.key)?;
    if let Some(new) = &change.new {
        stream.new_image = wire::to_image(new)?;
    }
    if let Some(old) = &change.old {
        stream.old_image = wire::to_image(old)?;
    }
    stream.sequence_number = Some(change.seq.to_string());
    stream.stream_view_type = Some(StreamViewType::NewAndOldImages);
    stream.size_bytes = i64::try_from(serde_json::to_vec(&stream)?.len()).unwrap_or(i64::MAX);

    let mut record = EventRecord::default();
    record.aws_region = super::REGION.to_owned();
    record.event_id = format!("{:032x}", change.seq);
    record.event_name = match change.kind {
        ChangeKind::Insert => "INSERT",
        ChangeKind::Modify => "MODIFY",
        ChangeKind::Remove => "REMOVE",
    }
    .to_owned();
    record.event_source = Some("aws:dynamodb".to_owned());
    record.event_version = Some("1.1".to_owned());
    record.event_source_arn = Some(format!(
        "arn:aws:dynamodb:{}:{}:table/{TABLE}/stream/local",
        super::REGION,
        super::ACCOUNT
    ));
    if change.expired {
        // How a TTL deletion's record tells itself apart from a caller's delete.
        let mut identity = UserIdentity::default();
        identity.type_ = "Service".to_owned();
        identity.principal_id = "dynamodb.amazonaws.com".to_owned();
        record.user_identity = Some(identity);
    }
    record.table_name = Some(TABLE.to_owned());
    record.change = stream;
    Ok(record)
}

fn key_image(key: &Key) -> anyhow::Result<serde_dynamo::Item> {
    serde_dynamo::to_item(serde_json::json!({ "pk": key.pk, "sk": key.sk }))
        .context("encoding a key")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use serde_json::{Map, json};
    use shared::store::Item;

    fn change(kind: ChangeKind, expired: bool) -> Change {
        let at = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap();
        let key = Key::new("user#1", "profile");
        let attrs: Map<String, serde_json::Value> =
            json!({"name": "Ada"}).as_object().cloned().unwrap();
        let item = Item::new(key.clone(), attrs);
        let (old, new) = match kind {
            ChangeKind::Insert => (None, Some(item)),
            ChangeKind::Modify => (Some(item.clone()), Some(item)),
            ChangeKind::Remove => (Some(item), None),
        };
        Change {
            seq: 42,
            kind,
            key,
            old,
            new,
            at,
            expired,
        }
    }

    #[test]
    fn a_change_becomes_a_stream_record_with_both_images() {
        let event = stream_event(&[change(ChangeKind::Modify, false)]).unwrap();
        let json = serde_json::to_value(event).unwrap();
        let record = &json["Records"][0];
        assert_eq!(record["eventName"], "MODIFY");
        assert_eq!(record["eventSource"], "aws:dynamodb");
        assert_eq!(
            record["dynamodb"]["Keys"],
            json!({"pk": {"S": "user#1"}, "sk": {"S": "profile"}})
        );
        assert_eq!(record["dynamodb"]["NewImage"]["name"], json!({"S": "Ada"}));
        assert_eq!(record["dynamodb"]["OldImage"]["name"], json!({"S": "Ada"}));
        assert_eq!(record["dynamodb"]["SequenceNumber"], "42");
        assert_eq!(record["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
        assert!(record["userIdentity"].is_null(), "{record}");
    }

    #[test]
    fn an_expiry_is_a_removal_by_the_dynamodb_service() {
        let event = stream_event(&[change(ChangeKind::Remove, true)]).unwrap();
        let json = serde_json::to_value(event).unwrap();
        let record = &json["Records"][0];
        assert_eq!(record["eventName"], "REMOVE");
        assert_eq!(
            record["userIdentity"],
            json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"})
        );
        assert_eq!(record["dynamodb"]["NewImage"], json!({}));
    }
}
