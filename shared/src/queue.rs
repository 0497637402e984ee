//! The queue port: SQS semantics.
//!
//! - Delivery is at least once: a message may be received more than once, by more than one
//!   consumer, and in any order. Consumers make their effects idempotent.
//! - A received message is invisible for its visibility timeout. Deleting it (with the receipt
//!   of that receive) ends it; otherwise it becomes visible again when the timeout runs out, and
//!   its receive count grows by one on every receive.
//! - A message sent with a delay is invisible until the delay has passed.
//! - A queue with a dead-letter queue moves a message there on the receive after the
//!   message's receive count reached the queue's maximum; that receive does not return it.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The longest delay SQS accepts on a message.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// The longest visibility timeout SQS accepts.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// The most messages one receive returns.
pub const MAX_RECEIVE: usize = 10;

/// A message received from a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub id: String,
    pub body: String,
    /// Identifies this receive; needed to delete the message or change its visibility.
    pub receipt: String,
    /// How many times the message has been received, this receive included.
    pub receive_count: u32,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The receipt does not belong to the latest receive of a message still in flight.
    #[error("the receipt is not valid for a message in flight")]
    InvalidReceipt,
    /// A delay or visibility timeout outside what the queue accepts.
    #[error("{0}")]
    OutOfRange(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// One queue.
#[async_trait]
pub trait Queue: Send + Sync + fmt::Debug {
    /// Sends a message, invisible for `delay` (at most [`MAX_DELAY`]); returns its id.
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError>;

    /// Receives up to `max` (at most [`MAX_RECEIVE`]) visible messages, hiding them for
    /// `visibility`. Waits up to `wait` for at least one message to arrive; returns an empty
    /// list when none did.
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Deletes a received message. Deleting a message that is already gone succeeds.
    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;

    /// Makes a received message visible again after `timeout` from now (zero: at once).
    async fn set_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError>;
}

/// The largest message body either queue takes: SQS's long-standing limit, kept by both adapters
/// so a message the local queue accepts is one SQS accepts too.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Checks a message body against [`MAX_BODY_BYTES`].
pub fn check_body(body: &str) -> Result<(), QueueError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(QueueError::OutOfRange(format!(
            "a message of {} bytes is over the maximum of {MAX_BODY_BYTES}",
            body.len()
        )));
    }
    Ok(())
}

/// Checks a delay against [`MAX_DELAY`].
pub fn check_delay(delay: Duration) -> Result<(), QueueError> {
    if delay > MAX_DELAY {
        return Err(QueueError::OutOfRange(format!(
            "a delay of {}s is over the maximum of {}s",
            delay.as_secs(),
            MAX_DELAY.as_secs()
        )));
    }
    Ok(())
}

/// Checks a visibility timeout against [`MAX_VISIBILITY`].
pub fn check_visibility(timeout: Duration) -> Result<(), QueueError> {
    if timeout > MAX_VISIBILITY {
        return Err(QueueError::OutOfRange(format!(
            "a visibility timeout of {}s is over the maximum of {}s",
            timeout.as_secs(),
            MAX_VISIBILITY.as_secs()
        )));
    }
    Ok(())
}
