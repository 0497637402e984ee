//! The SQS queue, with dead-lettering by the queue's redrive policy.

use std::time::Duration;

use shared::queue::{Queue, QueueError};
use tests::moto::moto;
use tests::provision;

const NO_WAIT: Duration = Duration::ZERO;
const LONG: Duration = Duration::from_secs(30);

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
async fn the_admins_redrive_moves_a_dead_letter_back_to_its_queue_on_sqs() -> anyhow::Result<()> {
    use local_system::admin::dead_letters::{Redriven, look, redrive};

    let (queue, dead_letters) = provision::queue_pair(moto().await?, 1).await?;
    queue.send("poison", Duration::ZERO).await?;
    let first = queue
        .receive(1, Duration::ZERO, Duration::from_secs(5))
        .await?;
    assert_eq!(first.len(), 1);
    assert!(queue.receive(1, LONG, NO_WAIT).await?.is_empty(), "moved");

    let seen = look(&dead_letters, 10).await?;
    assert_eq!(
        seen.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["poison"]
    );
    let mut progress = Vec::new();
    let done = redrive(
        &dead_letters,
        &queue,
        chrono::Utc::now(),
        1,
        &mut |line: &str| progress.push(line.to_owned()),
    )
    .await?;
    assert_eq!(
        done,
        Redriven {
            moved: 1,
            came_back: 0
        },
        "the look left it visible"
    );
    assert_eq!(progress, ["1 messages moved…"]);
    let back = queue.receive(1, LONG, Duration::from_secs(5)).await?;
    assert_eq!(
        back.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["poison"]
    );
    assert!(dead_letters.receive(1, LONG, NO_WAIT).await?.is_empty());
    Ok(())
}
