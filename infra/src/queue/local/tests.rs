//! What only the local queue promises (durability, wake-ups); the port's semantics are covered by
//! the conformance suite.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta};
use shared::clock::ManualClock;
use shared::queue::{Queue, QueueError};

use super::{DeadLetter, LocalQueue};
use crate::local_db::LocalDb;

const NOW: Duration = Duration::ZERO;
const MINUTE: Duration = Duration::from_secs(60);

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    ))
}

#[tokio::test]
async fn messages_survive_reopening_the_database() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("local.db");
    let clock = clock();
    let queue = LocalQueue::new(LocalDb::open(&path)?, "jobs", clock.clone(), None);
    let id = queue.send("hello", NOW).await?;
    drop(queue);

    let queue = LocalQueue::new(LocalDb::open(&path)?, "jobs", clock, None);
    let received = queue.receive(10, MINUTE, NOW).await?;
    assert_eq!(received.len(), 1);
    assert_eq!(
        (received[0].id.as_str(), received[0].body.as_str()),
        (id.as_str(), "hello")
    );
    Ok(())
}

#[tokio::test]
async fn queues_sharing_a_database_do_not_see_each_others_messages() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = LocalDb::open(&dir.path().join("local.db"))?;
    let clock = clock();
    let jobs = LocalQueue::new(db.clone(), "jobs", clock.clone(), None);
    let mails = LocalQueue::new(db, "mails", clock, None);
    jobs.send("job", NOW).await?;
    assert!(mails.receive(10, MINUTE, NOW).await?.is_empty());
    assert_eq!(jobs.receive(10, MINUTE, NOW).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn visibility_and_delay_follow_the_queue_clock() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = clock();
    let queue = LocalQueue::new(
        LocalDb::open(&dir.path().join("local.db"))?,
        "jobs",
        clock.clone(),
        None,
    );
    queue.send("later", MINUTE).await?;
    assert!(queue.receive(10, MINUTE, NOW).await?.is_empty());
    clock.advance(TimeDelta::seconds(60));
    let first = queue.receive(10, MINUTE, NOW).await?;
    assert_eq!(first.len(), 1);
    assert!(queue.receive(10, MINUTE, NOW).await?.is_empty());
    clock.advance(TimeDelta::seconds(60));
    let second = queue.receive(10, MINUTE, NOW).await?;
    assert_eq!(
        second.iter().map(|m| m.receive_count).collect::<Vec<_>>(),
        [2]
    );
    // The first receipt went stale when the message timed out and was received again.
    assert!(matches!(
        queue.set_visibility(&first[0].receipt, NOW).await,
        Err(QueueError::InvalidReceipt)
    ));
    Ok(())
}

#[tokio::test]
async fn a_waiting_receive_returns_a_message_sent_meanwhile() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let queue = LocalQueue::new(
        LocalDb::open(&dir.path().join("local.db"))?,
        "jobs",
        clock(),
        None,
    );
    let waiting = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.receive(1, MINUTE, Duration::from_secs(20)).await })
    };
    tokio::task::yield_now().await;
    queue.send("wake up", NOW).await?;
    let received = waiting.await??;
    assert_eq!(
        received.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["wake up"]
    );
    Ok(())
}

#[tokio::test]
async fn a_receive_takes_past_dead_messages_in_the_same_call() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = LocalDb::open(&dir.path().join("local.db"))?;
    let clock = clock();
    let dead_letter = DeadLetter {
        queue: "jobs-dlq".into(),
        max_receives: 1,
    };
    let queue = LocalQueue::new(db.clone(), "jobs", clock.clone(), Some(dead_letter));
    let dlq = LocalQueue::new(db, "jobs-dlq", clock.clone(), None);
    queue.send("poison", NOW).await?;
    assert_eq!(queue.receive(1, MINUTE, NOW).await?.len(), 1);
    clock.advance(TimeDelta::seconds(61));
    queue.send("fine", NOW).await?;

    let received = queue.receive(1, MINUTE, NOW).await?;
    assert_eq!(
        received.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["fine"]
    );
    let dead = dlq.receive(10, MINUTE, NOW).await?;
    assert_eq!(
        dead.iter()
            .map(|m| (m.body.as_str(), m.receive_count))
            .collect::<Vec<_>>(),
        [("poison", 1)]
    );
    Ok(())
}

#[tokio::test]
async fn out_of_range_arguments_are_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let queue = LocalQueue::new(
        LocalDb::open(&dir.path().join("local.db"))?,
        "jobs",
        clock(),
        None,
    );
    assert!(matches!(
        queue.send("x", Duration::from_secs(901)).await,
        Err(QueueError::OutOfRange(_))
    ));
    assert!(matches!(
        queue.send(&"x".repeat(256 * 1024 + 1), NOW).await,
        Err(QueueError::OutOfRange(_))
    ));
    assert!(matches!(
        queue.receive(0, MINUTE, NOW).await,
        Err(QueueError::OutOfRange(_))
    ));
    assert!(matches!(
        queue.receive(11, MINUTE, NOW).await,
        Err(QueueError::OutOfRange(_))
    ));
    assert!(matches!(
        queue.receive(1, MINUTE, Duration::from_secs(21)).await,
        Err(QueueError::OutOfRange(_))
    ));
    Ok(())
}
