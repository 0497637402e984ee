//! The scheduler firing the catalog's `purge_expired` at its time, with a real scheduled event.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use functions::catalog::{FUNCTIONS, Trigger};
use functions::local::scheduler::Scheduler;
use functions::maintenance::purge_expired::{self, PurgeExpired};
use infra::local_db::LocalDb;
use infra::store::sqlite::LocalStore;
use serde_json::json;
use shared::clock::{Clock, ManualClock};
use shared::store::{Item, ItemStore, Key};

fn purge_schedule() -> Option<&'static str> {
    FUNCTIONS
        .iter()
        .find(|f| f.name == purge_expired::FUNCTION)
        .and_then(|f| match f.trigger {
            Trigger::Schedule { expression } => Some(expression),
            Trigger::Http { .. } | Trigger::Stream | Trigger::Queue { .. } => None,
        })
}

#[tokio::test]
async fn the_purge_schedule_removes_expired_items_when_it_fires() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let store = Arc::new(LocalStore::new(
        LocalDb::open(&dir.path().join("local.db"))?,
        clock.clone(),
    ));
    let attrs = json!({"kind": "session"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let expiring = Item::new(Key::new("session#1", "meta"), attrs.clone())
        .expiring_at(clock.now() + TimeDelta::minutes(1));
    let lasting = Item::new(Key::new("session#2", "meta"), attrs);
    store.put(expiring, None).await?;
    store.put(lasting, None).await?;

    let expression = purge_schedule()
        .ok_or_else(|| anyhow::anyhow!("the catalog has no purge_expired schedule"))?;
    let mut scheduler = Scheduler::new(clock.clone());
    scheduler.add(
        purge_expired::FUNCTION,
        expression,
        Arc::new(PurgeExpired::new(store.clone())),
    )?;
    let due = scheduler
        .next_due()
        .ok_or_else(|| anyhow::anyhow!("the schedule never fires"))?;

    clock.set(due - TimeDelta::seconds(1));
    assert!(
        scheduler.fire_due().await.is_empty(),
        "nothing fires before its time"
    );

    clock.set(due);
    let fired = scheduler.fire_due().await;
    assert_eq!(fired.len(), 1);
    let report = fired.into_iter().next().map(|f| f.result).transpose()?;
    assert_eq!(
        report,
        Some(json!({"removed": 1, "batches": 2, "finished": true}))
    );

    let changes = store.changes_after(0, 10).await?;
    assert!(
        changes
            .last()
            .is_some_and(|c| c.key.pk == "session#1" && c.expired),
        "{changes:?}"
    );
    assert!(store.get(&Key::new("session#2", "meta")).await?.is_some());
    Ok(())
}
