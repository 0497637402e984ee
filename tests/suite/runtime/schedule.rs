//! The scheduler firing the table's `purge_expired` at its time, with a real scheduled event,
//! over a local backend on a manual clock.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use functions::wiring::{PURGE_EXPIRED, Trigger};
use infra::compose::{Backend as _, LocalBackend};
use infra::config::LocalConfig;
use local_system::scheduler::Scheduler;
use serde_json::json;
use shared::clock::{Clock, ManualClock, OsRandom};
use shared::store::{Item, ItemStore, Key};

#[tokio::test]
async fn the_purge_schedule_removes_expired_items_when_it_fires() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let config = LocalConfig::new(dir.path(), "http://127.0.0.1:3000");
    let backend = LocalBackend::open(config, clock.clone(), Arc::new(OsRandom)).await?;
    let store = backend.local_store();
    let attrs = json!({"kind": "session"}).as_object().unwrap().clone();
    let expiring = Item::new(Key::new("session#1", "meta"), attrs.clone())
        .expiring_at(clock.now() + TimeDelta::minutes(1));
    let lasting = Item::new(Key::new("session#2", "meta"), attrs);
    store.put(expiring, None).await?;
    store.put(lasting, None).await?;

    let Trigger::Schedule { expression } = PURGE_EXPIRED.trigger() else {
        anyhow::bail!("purge_expired is not on a schedule");
    };
    let mut scheduler = Scheduler::new(backend.clock());
    scheduler.add(
        PURGE_EXPIRED.name,
        expression,
        PURGE_EXPIRED.schedule_handler(&backend)?,
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
