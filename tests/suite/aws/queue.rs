//! The SQS queue, with dead-lettering by the queue's redrive policy.

use std::time::Duration;

use shared::queue::{Queue, QueueError};
use tests::moto::moto;
use tests::provision;

const NO_WAIT: Duration = Duration::ZERO;
const LONG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_sent_message_is_received_once_until_deleted() -> anyhow::Result<()> {
    let (queue, _) = provision::queue_pair(moto().await?, 3).await?;
    let before = chrono::Utc::now() - chrono::TimeDelta::seconds(5);
    let id = queue.send(r#"{"job":"welcome"}"#, Duration::ZERO).await?;

    let received = queue.receive(10, LONG, Duration::from_secs(5)).await?;
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(
        (message.id.as_str(), message.body.as_str()),
        (id.as_str(), r#"{"job":"welcome"}"#)
    );
    assert_eq!(message.receive_count, 1);
    assert!(
        message.sent_at > before
            && message.sent_at <= chrono::Utc::now() + chrono::TimeDelta::seconds(5)
    );
    assert!(
        queue.receive(10, LONG, NO_WAIT).await?.is_empty(),
        "a received message is invisible"
    );

    queue.delete(&message.receipt).await?;
    queue.delete(&message.receipt).await?;
    Ok(())
}

#[tokio::test]
async fn a_message_made_visible_again_is_received_with_a_higher_count() -> anyhow::Result<()> {
    let (queue, _) = provision::queue_pair(moto().await?, 5).await?;
    queue.send("m", Duration::ZERO).await?;
    let first = queue.receive(1, LONG, Duration::from_secs(5)).await?;
    let receipt = first.first().map(|m| m.receipt.clone()).unwrap_or_default();
    queue.set_visibility(&receipt, Duration::ZERO).await?;

    let second = queue.receive(1, LONG, Duration::from_secs(5)).await?;
    assert_eq!(
        second.iter().map(|m| m.receive_count).collect::<Vec<_>>(),
        [2]
    );
    Ok(())
}

#[tokio::test]
async fn a_delayed_message_stays_invisible_for_its_delay() -> anyhow::Result<()> {
    let (queue, _) = provision::queue_pair(moto().await?, 3).await?;
    queue.send("later", Duration::from_secs(2)).await?;
    assert!(queue.receive(1, LONG, NO_WAIT).await?.is_empty());
    let later = queue.receive(1, LONG, Duration::from_secs(10)).await?;
    assert_eq!(
        later.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["later"]
    );
    Ok(())
}

#[tokio::test]
async fn a_message_goes_to_the_dead_letter_queue_after_its_last_receive() -> anyhow::Result<()> {
    let (queue, dead_letters) = provision::queue_pair(moto().await?, 2).await?;
    let id = queue.send("poison", Duration::ZERO).await?;
    for count in 1..=2 {
        let received = queue
            .receive(1, Duration::ZERO, Duration::from_secs(5))
            .await?;
        assert_eq!(
            received.iter().map(|m| m.receive_count).collect::<Vec<_>>(),
            [count]
        );
    }
    assert!(
        queue.receive(1, LONG, NO_WAIT).await?.is_empty(),
        "the receive after the last one moves it"
    );
    let dead = dead_letters
        .receive(1, LONG, Duration::from_secs(5))
        .await?;
    assert_eq!(
        dead.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    Ok(())
}

#[tokio::test]
async fn an_unknown_receipt_is_invalid() -> anyhow::Result<()> {
    let (queue, _) = provision::queue_pair(moto().await?, 3).await?;
    let visibility = queue.set_visibility("not-a-receipt", Duration::ZERO).await;
    assert!(
        matches!(visibility, Err(QueueError::InvalidReceipt)),
        "{visibility:?}"
    );
    let delete = queue.delete("not-a-receipt").await;
    assert!(
        matches!(delete, Err(QueueError::InvalidReceipt)),
        "{delete:?}"
    );
    Ok(())
}

#[tokio::test]
async fn out_of_range_delays_and_batches_are_refused() -> anyhow::Result<()> {
    let (queue, _) = provision::queue_pair(moto().await?, 3).await?;
    let delay = queue.send("m", Duration::from_secs(16 * 60)).await;
    assert!(matches!(delay, Err(QueueError::OutOfRange(_))), "{delay:?}");
    let batch = queue.receive(11, LONG, NO_WAIT).await;
    assert!(matches!(batch, Err(QueueError::OutOfRange(_))), "{batch:?}");
    let visibility = queue
        .receive(1, Duration::from_secs(13 * 60 * 60), NO_WAIT)
        .await;
    assert!(
        matches!(visibility, Err(QueueError::OutOfRange(_))),
        "{visibility:?}"
    );
    Ok(())
}
