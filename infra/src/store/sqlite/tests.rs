//! What only the local store promises: durability and the change feed. The port's semantics are
//! covered by the conformance suite.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta};
use serde_json::json;
use shared::clock::ManualClock;
use shared::store::{Condition, Item, ItemStore, Key, Write};

use super::{ChangeKind, LocalStore};
use crate::local_db::LocalDb;

fn start() -> DateTime<chrono::Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn item(sk: &str, n: i64) -> Item {
    let attrs = json!({ "n": n }).as_object().cloned().unwrap();
    Item::new(Key::new("P", sk), attrs)
}

fn open(path: &std::path::Path, clock: &Arc<ManualClock>) -> anyhow::Result<LocalStore> {
    Ok(LocalStore::new(LocalDb::open(path)?, clock.clone()))
}

#[tokio::test]
async fn items_and_feed_positions_survive_reopening_the_database() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("local.db");
    let clock = Arc::new(ManualClock::new(start()));
    let store = open(&path, &clock)?;
    store.put(item("a", 1), None).await?;
    store.set_feed_position("relay", 1).await?;
    drop(store);

    let store = open(&path, &clock)?;
    assert_eq!(store.get(&Key::new("P", "a")).await?, Some(item("a", 1)));
    assert_eq!(store.feed_position("relay").await?, 1);
    assert_eq!(store.feed_position("never-saved").await?, 0);
    assert_eq!(store.changes_after(0, 10).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn every_write_appears_on_the_feed_with_both_images() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(start()));
    let store = open(&dir.path().join("local.db"), &clock)?;
    store.put(item("a", 1), None).await?;
    store.put(item("a", 2), None).await?;
    assert_eq!(store.add(&Key::new("P", "a"), "n", 5, None).await?, 7);
    store.delete(&Key::new("P", "a"), None).await?;
    store.delete(&Key::new("P", "a"), None).await?;

    let changes = store.changes_after(0, 100).await?;
    let kinds: Vec<_> = changes.iter().map(|c| c.kind).collect();
    use ChangeKind::*;
    assert_eq!(kinds, [Insert, Modify, Modify, Remove]);
    assert_eq!(changes[1].old, Some(item("a", 1)));
    assert_eq!(changes[1].new, Some(item("a", 2)));
    assert_eq!(changes[2].new, Some(item("a", 7)));
    assert_eq!(changes[3].old, Some(item("a", 7)));
    assert_eq!(changes[3].new, None);
    assert!(changes.iter().all(|c| !c.expired && c.at == start()));
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(store.changes_after(changes[1].seq, 1).await?, changes[2..3]);
    Ok(())
}

#[tokio::test]
async fn a_failed_transaction_leaves_no_trace_on_the_feed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(start()));
    let store = open(&dir.path().join("local.db"), &clock)?;
    let failed = store
        .transact(vec![
            Write::put(item("a", 1)),
            Write::check(Key::new("P", "b"), Condition::Present),
        ])
        .await;
    assert!(matches!(
        failed,
        Err(shared::store::StoreError::ConditionFailed { index: 1 })
    ));
    assert!(store.changes_after(0, 100).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn expired_items_leave_through_an_expired_removal() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(start()));
    let store = open(&dir.path().join("local.db"), &clock)?;
    let soon = start() + TimeDelta::seconds(10);
    store.put(item("purged", 1).expiring_at(soon), None).await?;
    store
        .put(item("replaced", 1).expiring_at(soon), None)
        .await?;
    store.put(item("kept", 1), None).await?;
    clock.advance(TimeDelta::seconds(10));

    assert_eq!(store.purge_expired(1).await?, 1);
    store
        .put(item("replaced", 2), Some(Condition::Absent))
        .await?;
    assert_eq!(store.purge_expired(100).await?, 0);

    let changes = store.changes_after(3, 100).await?;
    let seen: Vec<_> = changes
        .iter()
        .map(|c| (c.kind, c.key.sk.as_str(), c.expired))
        .collect();
    assert_eq!(
        seen,
        [
            (ChangeKind::Remove, "purged", true),
            (ChangeKind::Remove, "replaced", true),
            (ChangeKind::Insert, "replaced", false),
        ]
    );
    assert_eq!(changes[0].old, Some(item("purged", 1).expiring_at(soon)));
    Ok(())
}

#[tokio::test]
async fn an_add_over_an_expired_counter_starts_a_new_window() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(start()));
    let store = open(&dir.path().join("local.db"), &clock)?;
    let key = Key::new("RATE", "ip");
    let first = start() + TimeDelta::seconds(60);
    assert_eq!(store.add(&key, "hits", 1, Some(first)).await?, 1);
    assert_eq!(
        store
            .add(&key, "hits", 1, Some(first + TimeDelta::seconds(5)))
            .await?,
        2
    );
    assert_eq!(
        store.get(&key).await?.and_then(|i| i.expires_at),
        Some(first)
    );
    clock.advance(TimeDelta::seconds(60));
    let second = first + TimeDelta::seconds(60);
    assert_eq!(store.add(&key, "hits", 1, Some(second)).await?, 1);
    assert_eq!(
        store.get(&key).await?.and_then(|i| i.expires_at),
        Some(second)
    );
    Ok(())
}

#[tokio::test]
async fn the_change_feed_keeps_a_change_for_a_day_like_a_stream() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(start()));
    let store = open(&dir.path().join("local.db"), &clock)?;
    store.put(item("old", 1), None).await?;
    clock.advance(TimeDelta::hours(23));
    store.put(item("recent", 1), None).await?;
    clock.advance(TimeDelta::hours(2));

    store.purge_expired(100).await?;
    let left: Vec<_> = store
        .changes_after(0, 100)
        .await?
        .into_iter()
        .map(|c| (c.seq, c.key.sk))
        .collect();
    assert_eq!(
        left,
        [(2, "recent".to_owned())],
        "the day-old change is gone, the seq kept"
    );
    store.put(item("next", 1), None).await?;
    let next = store.changes_after(2, 100).await?;
    assert_eq!(
        next.first().map(|c| c.seq),
        Some(3),
        "positions are never reused"
    );
    Ok(())
}

/// `PRAGMA synchronous` on the writer: 2 is FULL, each commit waiting for the disk.
async fn writer_synchronous(store: &LocalStore) -> anyhow::Result<i64> {
    store
        .db
        .run(|conn| Ok::<_, anyhow::Error>(conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?))
        .await
}

#[tokio::test]
async fn counters_and_fail_safe_transactions_commit_without_waiting_for_the_disk_and_nothing_else_does()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("local.db");
    let clock = Arc::new(ManualClock::new(start()));
    let store = open(&path, &clock)?;
    let key = Key::new("P", "counter");
    assert_eq!(writer_synchronous(&store).await?, 2);
    assert_eq!(store.add(&key, "count", 1, None).await?, 1);
    assert_eq!(writer_synchronous(&store).await?, 2, "after a counter");
    // A counter that fails (its attribute holds text) leaves the writer as it found it too.
    let text = Key::new("P", "text");
    let attrs = json!({ "n": "not a number" }).as_object().cloned().unwrap();
    store.put(Item::new(text.clone(), attrs), None).await?;
    assert!(store.add(&text, "n", 1, None).await.is_err());
    assert_eq!(
        writer_synchronous(&store).await?,
        2,
        "after a failed counter"
    );
    let session = Item::new(
        Key::new("P", "session"),
        json!({}).as_object().cloned().unwrap(),
    );
    store
        .transact_fail_safe(vec![Write::put(session.clone())])
        .await?;
    assert_eq!(
        writer_synchronous(&store).await?,
        2,
        "after a fail-safe transaction"
    );
    // Written to the log at once: the count and the session outlive the process's handle on
    // them.
    drop(store);
    let store = open(&path, &clock)?;
    assert_eq!(store.add(&key, "count", 1, None).await?, 2);
    assert_eq!(store.get(&session.key).await?, Some(session));
    Ok(())
}
