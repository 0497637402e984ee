//! The `relay` function: publishes the events the table's stream shows being added to the
//! outbox, and marks them relayed.
//!
//! Records are handled in stream order. On the first one that fails, the relay stops and
//! reports that record's sequence number, so Lambda (or the local feed pump) retries it and
//! everything after it, and nothing before it. An outbox item that cannot be read is logged
//! and skipped: retrying cannot fix it, and it stays pending where the reconciliation will
//! report it again.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use aws_lambda_events::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use shared::clock::Clock;
use shared::messaging::event::Event;
use shared::messaging::outbox::{event_of, is_outbox_key, mark_relayed};
use shared::store::ItemStore;
use shared::store::wire;

use crate::messaging::publisher::Publisher;
use crate::telemetry::metrics;
use crate::trigger::StreamHandler;
use shared::queue::QueueError;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct Relay {
    publisher: Publisher,
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
}

impl Relay {
    pub fn new(publisher: Publisher, store: Arc<dyn ItemStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            publisher,
            store,
            clock,
        }
    }

    /// Publishes and marks one event.
    async fn relay(&self, event: &Event) -> anyhow::Result<()> {
        let message = self.publisher.publish(event).await?;
        let marked = mark_relayed(self.store.as_ref(), event, self.clock.now())
            .await
            .with_context(|| format!("marking event {} relayed", event.id))?;
        tracing::debug!(event = %event.id, r#type = %event.event_type, %message, marked, "relayed");
        Ok(())
    }
}

#[async_trait]
impl StreamHandler for Relay {
    async fn handle(&self, event: StreamEvent) -> anyhow::Result<DynamoDbEventResponse> {
        let mut response = DynamoDbEventResponse::default();
        for record in &event.records {
            let Some(event) = outbox_insert(record) else {
                continue;
            };
            let lag = self.clock.now() - event.occurred_at;
            metrics::relay_lag(lag.to_std().unwrap_or_default());
            let span = tracing::info_span!("event", event_id = %event.id, r#type = %event.event_type, trace_id = tracing::field::Empty);
            crate::telemetry::record_trace(&span, event.trace_id.as_deref());
            let relayed = self.relay(&event).instrument(span.clone()).await;
            if relayed.is_ok() {
                span.in_scope(|| tracing::info!(lag_ms = lag.num_milliseconds(), "event relayed"));
            }
            if let Err(error) = relayed {
                // A message the queue refuses for good (too large) would block the stream
                // for ever: it stays pending in the outbox, in the log and `admin outbox status`.
                if refused_for_good(&error) {
                    tracing::error!(event = %event.id, r#type = %event.event_type, error = %format_args!("{error:#}"), "an event the queue refuses; left pending in the outbox");
                    continue;
                }
                tracing::error!(event = %event.id, error = %format_args!("{error:#}"), "relay failed; retrying from this record");
                let Some(sequence) = record.change.sequence_number.clone() else {
                    return Err(error.context("a failed stream record has no sequence number"));
                };
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence);
                response.batch_item_failures.push(failure);
                break;
            }
        }
        Ok(response)
    }
}

/// Whether the queue refused the message itself (its size), which no retry changes.
fn refused_for_good(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<QueueError>(),
            Some(QueueError::OutOfRange(_))
        )
    })
}

/// The event of a record that inserts an outbox item; `None` for every other record.
fn outbox_insert(record: &EventRecord) -> Option<Event> {
    if record.event_name != "INSERT" {
        return None;
    }
    let key = wire::from_image(record.change.keys.clone()).ok()?.key;
    if !is_outbox_key(&key) {
        return None;
    }
    let event = wire::from_image(record.change.new_image.clone())
        .context("decoding the image")
        .and_then(|item| Ok(event_of(&item)?));
    match event {
        Ok(event) => Some(event),
        Err(error) => {
            tracing::error!(pk = %key.pk, error = %format_args!("{error:#}"), "an outbox item that is not an event; skipped");
            None
        }
    }
}
