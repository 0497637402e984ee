//! The local SQS event source mapping: receives messages from a queue in batches, hands them to
//! an [`SqsHandler`] as a real [`SqsEvent`], and deletes what the handler did not report failed.
//!
//! As on Lambda with `ReportBatchItemFailures`: a failed message is left alone and reappears
//! when its visibility timeout runs out (the queue moves it to its dead-letter queue after its
//! maximum receives); a handler error, or a failure naming no message of the batch, fails the
//! whole batch.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use shared::queue::{MAX_RECEIVE, Queue, ReceivedMessage};
use tokio::sync::watch;

use functions::trigger::SqsHandler;

/// How long a received message stays hidden, as the queue's visibility timeout in the template.
pub const VISIBILITY: Duration = Duration::from_secs(30);

/// How long one receive waits for messages (long polling).
const WAIT: Duration = Duration::from_secs(1);

/// How long to back off after the queue itself failed.
const BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct QueuePump {
    name: String,
    queue: Arc<dyn Queue>,
    handler: Arc<dyn SqsHandler>,
    visibility: Duration,
    wait: Duration,
}

/// What one batch came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
}

impl QueuePump {
    pub fn new(
        name: impl Into<String>,
        queue: Arc<dyn Queue>,
        handler: Arc<dyn SqsHandler>,
    ) -> Self {
        Self {
            name: name.into(),
            queue,
            handler,
            visibility: VISIBILITY,
            wait: WAIT,
        }
    }

    /// Sets the visibility timeout of received messages, and how long a receive waits.
    pub fn with_timing(self, visibility: Duration, wait: Duration) -> Self {
        Self {
            visibility,
            wait,
            ..self
        }
    }

    /// Sets the visibility timeout of received messages: how long a message a crashed
    /// consumer held stays hidden.
    pub fn with_visibility(self, visibility: Duration) -> Self {
        Self { visibility, ..self }
    }

    /// Receives one batch (waiting up to the receive wait for it) and delivers it.
    pub async fn pump_once(&self) -> anyhow::Result<BatchOutcome> {
        let messages = self
            .queue
            .receive(MAX_RECEIVE, self.visibility, self.wait)
            .await
            .with_context(|| format!("receiving from queue {}", self.name))?;
        if messages.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let received = messages.len();
        let failed = match self.handler.handle(sqs_event(&self.name, &messages)).await {
            Ok(response) => {
                let failed: HashSet<String> = response
                    .batch_item_failures
                    .into_iter()
                    .map(|f| f.item_identifier)
                    .collect();
                if failed.iter().all(|id| messages.iter().any(|m| &m.id == id)) {
                    failed
                } else {
                    tracing::warn!(queue = %self.name, "a batch item failure names no message of the batch; retrying the batch");
                    messages.iter().map(|m| m.id.clone()).collect()
                }
            }
            Err(error) => {
                tracing::error!(queue = %self.name, error = %format_args!("{error:#}"), "the batch failed");
                messages.iter().map(|m| m.id.clone()).collect()
            }
        };
        let mut deleted = 0;
        for message in messages.iter().filter(|m| !failed.contains(&m.id)) {
            self.queue.delete(&message.receipt).await.with_context(|| {
                format!("deleting message {} from queue {}", message.id, self.name)
            })?;
            deleted += 1;
        }
        Ok(BatchOutcome {
            received,
            deleted,
            failed: received - deleted,
        })
    }

    /// Pumps until `shutdown` turns true. An interrupted batch is finished first, so no
    /// delivered message is left undeleted by the stop.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let backoff = match self.pump_once().await {
                Ok(_) => Duration::ZERO,
                Err(error) => {
                    tracing::error!(queue = %self.name, error = %format_args!("{error:#}"), "queue pump failed");
                    BACKOFF
                }
            };
            if !backoff.is_zero() {
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(backoff) => {}
                }
            }
        }
    }
}

/// The event Lambda's SQS event source mapping delivers for a batch of messages.
pub fn sqs_event(queue: &str, messages: &[ReceivedMessage]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|message| sqs_message(queue, message))
        .collect();
    event
}

fn sqs_message(queue: &str, message: &ReceivedMessage) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(message.id.clone());
    record.receipt_handle = Some(message.receipt.clone());
    record.body = Some(message.body.clone());
    record.attributes = HashMap::from([
        (
            "ApproximateReceiveCount".to_owned(),
            message.receive_count.to_string(),
        ),
        (
            "SentTimestamp".to_owned(),
            message.sent_at.timestamp_millis().to_string(),
        ),
        ("SenderId".to_owned(), super::ACCOUNT.to_owned()),
    ]);
    record.event_source = Some("aws:sqs".to_owned());
    record.event_source_arn = Some(format!(
        "arn:aws:sqs:{}:{}:{queue}",
        super::REGION,
        super::ACCOUNT
    ));
    record.aws_region = Some(super::REGION.to_owned());
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn a_message_becomes_an_sqs_record() {
        let sent_at = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        let message = ReceivedMessage {
            id: "m-1".into(),
            body: "{}".into(),
            receipt: "r-1".into(),
            receive_count: 3,
            sent_at,
        };
        let json = serde_json::to_value(sqs_event("jobs", &[message])).unwrap();
        let record = &json["Records"][0];
        assert_eq!(record["messageId"], "m-1");
        assert_eq!(record["receiptHandle"], "r-1");
        assert_eq!(record["body"], "{}");
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "3");
        assert_eq!(record["attributes"]["SentTimestamp"], "1767225600000");
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(
            record["eventSourceARN"],
            "arn:aws:sqs:local:000000000000:jobs"
        );
    }
}
