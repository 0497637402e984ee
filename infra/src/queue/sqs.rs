//! The queue on SQS. Dead-lettering is the queue's redrive policy, set where the queue is
//! provisioned, not something this adapter does.

use std::time::Duration;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityError;
use aws_sdk_sqs::operation::delete_message::DeleteMessageError;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use chrono::{DateTime, Utc};
use shared::queue::{
    MAX_RECEIVE, Queue, QueueError, ReceivedMessage, check_body, check_delay, check_visibility,
};

/// The longest long poll SQS allows.
const MAX_WAIT: Duration = Duration::from_secs(20);

/// One SQS queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError> {
        check_delay(delay)?;
        check_body(body)?;
        let output = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(seconds(delay))
            .send()
            .await
            .context("sending a message")?;
        output
            .message_id
            .ok_or_else(|| anyhow!("SQS returned no message id").into())
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        if !(1..=MAX_RECEIVE).contains(&max) {
            return Err(QueueError::OutOfRange(format!(
                "a receive takes 1..={MAX_RECEIVE} messages, not {max}"
            )));
        }
        check_visibility(visibility)?;
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            // `max` is checked to be 1..=10 above.
            .max_number_of_messages(max as i32)
            .visibility_timeout(seconds(visibility))
            .wait_time_seconds(seconds(wait.min(MAX_WAIT)))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .context("receiving messages")?;
        output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(received)
            .collect()
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let result = self
            .client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(DeleteMessageError::ReceiptHandleIsInvalid(_)) => {
                    Err(QueueError::InvalidReceipt)
                }
                _ => Err(anyhow::Error::new(err).context("deleting a message").into()),
            },
        }
    }

    async fn set_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        check_visibility(timeout)?;
        let result = self
            .client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(timeout))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(
                    ChangeMessageVisibilityError::ReceiptHandleIsInvalid(_)
                    | ChangeMessageVisibilityError::MessageNotInflight(_),
                ) => Err(QueueError::InvalidReceipt),
                _ => Err(anyhow::Error::new(err)
                    .context("changing a message's visibility")
                    .into()),
            },
        }
    }
}

/// Whole seconds, as SQS takes them; every duration passed here is checked to be far below
/// `i32::MAX` seconds.
fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)
}

fn received(message: Message) -> Result<ReceivedMessage, QueueError> {
    let attribute = |name: MessageSystemAttributeName| {
        message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&name))
            .map(String::as_str)
    };
    let receive_count = attribute(MessageSystemAttributeName::ApproximateReceiveCount)
        .context("a message without ApproximateReceiveCount")?
        .parse::<u32>()
        .context("ApproximateReceiveCount is not a count")?;
    let sent_millis = attribute(MessageSystemAttributeName::SentTimestamp)
        .context("a message without SentTimestamp")?
        .parse::<i64>()
        .context("SentTimestamp is not epoch milliseconds")?;
    let sent_at: DateTime<Utc> =
        DateTime::from_timestamp_millis(sent_millis).context("SentTimestamp is out of range")?;
    Ok(ReceivedMessage {
        id: message.message_id.context("a message without an id")?,
        body: message.body.unwrap_or_default(),
        receipt: message
            .receipt_handle
            .context("a message without a receipt handle")?,
        receive_count,
        sent_at,
    })
}
