//! The queue's conformance cases: delivery, visibility, delay, dead-lettering, receipts.

use std::sync::Arc;
use std::time::Duration;

use shared::queue::{MAX_DELAY, MAX_RECEIVE, MAX_VISIBILITY, Queue, QueueError, ReceivedMessage};

use super::{PATIENCE, eventually, unique};

/// Fresh queues per test: `queue` dead-letters into `dlq` after `max_receives` receives.
pub struct QueueCtx {
    pub queue: Arc<dyn Queue>,
    pub dlq: Arc<dyn Queue>,
    pub max_receives: u32,
}

const SHORT: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(60);

/// Receives until the message with `id` arrives (hiding it for `visibility`).
async fn receive_id(
    queue: &dyn Queue,
    id: &str,
    visibility: Duration,
) -> anyhow::Result<ReceivedMessage> {
    eventually(&format!("message {id}"), || async {
        let received = queue.receive(10, visibility, SHORT).await?;
        Ok(received.into_iter().find(|m| m.id == id))
    })
    .await
}

pub async fn a_sent_message_is_received_once_until_deleted(ctx: QueueCtx) -> anyhow::Result<()> {
    let body = unique("hello");
    // The queue stamps the send by its own clock (SQS's on AWS): allow for skew.
    let before = chrono::Utc::now() - chrono::TimeDelta::seconds(5);
    let id = ctx.queue.send(&body, Duration::ZERO).await?;
    let message = receive_id(&*ctx.queue, &id, LONG).await?;
    assert_eq!(
        (message.body.as_str(), message.receive_count),
        (body.as_str(), 1)
    );
    let after = chrono::Utc::now() + chrono::TimeDelta::seconds(5);
    assert!(
        (before..after).contains(&message.sent_at),
        "sent at {}",
        message.sent_at
    );
    assert!(
        ctx.queue.receive(10, LONG, SHORT).await?.is_empty(),
        "a received message is hidden"
    );
    ctx.queue.delete(&message.receipt).await?;
    ctx.queue.delete(&message.receipt).await?;
    Ok(())
}

pub async fn an_empty_receive_without_wait_returns_at_once(ctx: QueueCtx) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    assert!(
        ctx.queue
            .receive(10, LONG, Duration::ZERO)
            .await?
            .is_empty()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    Ok(())
}

pub async fn every_sent_message_is_delivered(ctx: QueueCtx) -> anyhow::Result<()> {
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(ctx.queue.send(&format!("m{i}"), Duration::ZERO).await?);
    }
    let mut seen: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while seen.len() < ids.len() && tokio::time::Instant::now() < deadline {
        for message in ctx.queue.receive(10, LONG, SHORT).await? {
            ctx.queue.delete(&message.receipt).await?;
            seen.push(message.id);
        }
    }
    seen.sort();
    seen.dedup();
    ids.sort();
    assert_eq!(seen, ids);
    Ok(())
}

pub async fn an_unacknowledged_message_comes_back_after_its_visibility_timeout(
    ctx: QueueCtx,
) -> anyhow::Result<()> {
    let id = ctx.queue.send("retry me", Duration::ZERO).await?;
    let first = receive_id(&*ctx.queue, &id, SHORT).await?;
    let second = receive_id(&*ctx.queue, &id, LONG).await?;
    assert_eq!((first.receive_count, second.receive_count), (1, 2));
    assert_ne!(first.receipt, second.receipt);
    assert_eq!(second.body, "retry me");
    Ok(())
}

pub async fn a_zero_visibility_makes_a_message_visible_at_once(
    ctx: QueueCtx,
) -> anyhow::Result<()> {
    let id = ctx.queue.send("now", Duration::ZERO).await?;
    let first = receive_id(&*ctx.queue, &id, LONG).await?;
    ctx.queue
        .set_visibility(&first.receipt, Duration::ZERO)
        .await?;
    let second = receive_id(&*ctx.queue, &id, LONG).await?;
    assert_eq!(second.receive_count, 2);
    Ok(())
}

pub async fn a_delayed_message_is_hidden_until_its_delay_passed(
    ctx: QueueCtx,
) -> anyhow::Result<()> {
    let delay = Duration::from_secs(2);
    let sent = tokio::time::Instant::now();
    let id = ctx.queue.send("later", delay).await?;
    assert!(
        ctx.queue
            .receive(10, LONG, Duration::ZERO)
            .await?
            .is_empty(),
        "hidden right after the send"
    );
    receive_id(&*ctx.queue, &id, LONG).await?;
    // The queue's clock has millisecond (local) or second (SQS) precision.
    assert!(
        sent.elapsed() >= delay - Duration::from_millis(1000),
        "received after {:?}",
        sent.elapsed()
    );
    Ok(())
}

pub async fn a_message_received_too_often_moves_to_the_dead_letter_queue(
    ctx: QueueCtx,
) -> anyhow::Result<()> {
    let body = unique("poison");
    let id = ctx.queue.send(&body, Duration::ZERO).await?;
    for count in 1..=ctx.max_receives {
        let message = receive_id(&*ctx.queue, &id, LONG).await?;
        assert_eq!(message.receive_count, count);
        ctx.queue
            .set_visibility(&message.receipt, Duration::ZERO)
            .await?;
    }
    let dead = eventually("the message in the dead-letter queue", || async {
        let returned = ctx.queue.receive(10, LONG, Duration::ZERO).await?;
        assert!(
            returned.iter().all(|m| m.id != id),
            "a message past its receives is not returned"
        );
        let dead = ctx.dlq.receive(10, LONG, SHORT).await?;
        Ok(dead.into_iter().find(|m| m.body == body))
    })
    .await?;
    assert_eq!(dead.body, body);
    Ok(())
}

pub async fn a_stale_receipt_cannot_change_visibility(ctx: QueueCtx) -> anyhow::Result<()> {
    let id = ctx.queue.send("x", Duration::ZERO).await?;
    let first = receive_id(&*ctx.queue, &id, LONG).await?;
    ctx.queue
        .set_visibility(&first.receipt, Duration::ZERO)
        .await?;
    let second = receive_id(&*ctx.queue, &id, LONG).await?;
    let stale = ctx.queue.set_visibility(&first.receipt, LONG).await;
    assert!(
        matches!(stale, Err(QueueError::InvalidReceipt)),
        "{stale:?}"
    );
    ctx.queue.set_visibility(&second.receipt, LONG).await?;
    ctx.queue.delete(&second.receipt).await?;
    Ok(())
}

pub async fn out_of_range_delays_batches_and_timeouts_are_refused(
    ctx: QueueCtx,
) -> anyhow::Result<()> {
    let over = |max: Duration| max + Duration::from_secs(1);
    let delay = ctx.queue.send("m", over(MAX_DELAY)).await;
    assert!(matches!(delay, Err(QueueError::OutOfRange(_))), "{delay:?}");
    for max in [0, MAX_RECEIVE + 1] {
        let batch = ctx.queue.receive(max, LONG, Duration::ZERO).await;
        assert!(matches!(batch, Err(QueueError::OutOfRange(_))), "{batch:?}");
    }
    let visibility = ctx
        .queue
        .receive(1, over(MAX_VISIBILITY), Duration::ZERO)
        .await;
    assert!(
        matches!(visibility, Err(QueueError::OutOfRange(_))),
        "{visibility:?}"
    );
    let id = ctx.queue.send("m", Duration::ZERO).await?;
    let message = receive_id(&*ctx.queue, &id, LONG).await?;
    let extended = ctx
        .queue
        .set_visibility(&message.receipt, over(MAX_VISIBILITY))
        .await;
    assert!(
        matches!(extended, Err(QueueError::OutOfRange(_))),
        "{extended:?}"
    );
    ctx.queue.delete(&message.receipt).await?;
    assert!(
        ctx.queue
            .receive(10, LONG, Duration::ZERO)
            .await?
            .is_empty(),
        "only the one message was sent"
    );
    Ok(())
}

/// Instantiates every queue case for one implementation: `queue_suite!(local, factory)` where
/// `factory()` is an async fn returning `anyhow::Result<(QueueCtx, guard)>`. An implementation that
/// cannot show a case adds `except { case: "why" }` (see `instantiate!`).
macro_rules! queue_suite {
    ($name:ident, $factory:expr $(, except { $($skip:ident: $reason:literal),* $(,)? })?) => {
        mod $name {
            crate::conformance::instantiate!($factory; except { $($($skip: $reason),*)? };
                a_sent_message_is_received_once_until_deleted,
                an_empty_receive_without_wait_returns_at_once,
                every_sent_message_is_delivered,
                an_unacknowledged_message_comes_back_after_its_visibility_timeout,
                a_zero_visibility_makes_a_message_visible_at_once,
                a_delayed_message_is_hidden_until_its_delay_passed,
                a_message_received_too_often_moves_to_the_dead_letter_queue,
                a_stale_receipt_cannot_change_visibility,
                out_of_range_delays_batches_and_timeouts_are_refused,
            );
        }
    };
}
queue_suite!(local, crate::conformance::local::queue);
queue_suite!(
    aws,
    crate::conformance::aws::queue,
    except {
        a_stale_receipt_cannot_change_visibility: "moto's ChangeMessageVisibility accepts the receipt \
        of an earlier receive, where SQS answers MessageNotInflight or ReceiptHandleIsInvalid",
    }
);
