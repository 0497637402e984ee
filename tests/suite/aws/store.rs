//! The DynamoDB item store on a clock the test moves: items expire, counters restart and purges
//! find their items by the store's own clock, not by the emulator's.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use shared::clock::{Clock, ManualClock};
use shared::store::{Condition, Item, ItemStore, Key, Query, StoreError};
use tests::moto::moto;
use tests::provision;

fn item(pk: &str, sk: &str, attrs: Value) -> Item {
    let Value::Object(attrs) = attrs else {
        panic!("attributes must be an object")
    };
    Item::new(Key::new(pk, sk), attrs)
}

/// A store whose clock the test moves.
async fn store_on_manual_clock()
-> anyhow::Result<(infra::store::dynamo::DynamoStore, Arc<ManualClock>)> {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let store = provision::store_with_clock(moto().await?, clock.clone() as Arc<dyn Clock>).await?;
    Ok((store, clock))
}

#[tokio::test]
async fn an_item_expires_when_the_store_clock_passes_its_expiry() -> anyhow::Result<()> {
    let (store, clock) = store_on_manual_clock().await?;
    let expiring =
        item("P", "S", json!({"v": 1})).expiring_at(clock.now() + TimeDelta::seconds(10));
    store.put(expiring.clone(), None).await?;
    assert!(store.get(&expiring.key).await?.is_some());
    assert_eq!(store.query(Query::partition("P")).await?.items.len(), 1);

    clock.advance(TimeDelta::seconds(10));
    assert_eq!(store.get(&expiring.key).await?, None);
    assert!(store.query(Query::partition("P")).await?.items.is_empty());
    let present = store
        .put(item("P", "S", json!({"v": 2})), Some(Condition::Present))
        .await;
    assert!(
        matches!(present, Err(StoreError::ConditionFailed { .. })),
        "{present:?}"
    );
    store
        .put(item("P", "S", json!({"v": 3})), Some(Condition::Absent))
        .await?;
    assert_eq!(
        store.get(&expiring.key).await?,
        Some(item("P", "S", json!({"v": 3})))
    );
    Ok(())
}

#[tokio::test]
async fn add_counts_and_restarts_an_expired_counter() -> anyhow::Result<()> {
    let (store, clock) = store_on_manual_clock().await?;
    let key = Key::new("RATE#login#1.2.3.4", "W");
    let window = clock.now() + TimeDelta::seconds(60);
    assert_eq!(store.add(&key, "hits", 1, Some(window)).await?, 1);
    assert_eq!(
        store
            .add(&key, "hits", 2, Some(window + TimeDelta::seconds(60)))
            .await?,
        3
    );
    let counter = store
        .get(&key)
        .await?
        .map(|i| (i.attrs["hits"].clone(), i.expires_at.map(|t| t.timestamp())));
    assert_eq!(
        counter,
        Some((json!(3), Some(window.timestamp()))),
        "the first add sets the window"
    );

    clock.advance(TimeDelta::seconds(60));
    assert_eq!(
        store
            .add(&key, "hits", 1, Some(clock.now() + TimeDelta::seconds(60)))
            .await?,
        1,
        "an expired counter restarts"
    );

    let plain = Key::new("COUNTER", "C");
    store
        .put(item("COUNTER", "C", json!({"name": "kept"})), None)
        .await?;
    assert_eq!(
        store
            .add(&plain, "n", 5, Some(clock.now() + TimeDelta::seconds(1)))
            .await?,
        5
    );
    let plain_item = store.get(&plain).await?;
    assert_eq!(
        plain_item.as_ref().map(|i| i.attrs["name"].clone()),
        Some(json!("kept"))
    );
    assert_eq!(
        plain_item.and_then(|i| i.expires_at),
        None,
        "a live counter keeps having no expiry"
    );
    Ok(())
}

#[tokio::test]
async fn purging_removes_expired_items_only() -> anyhow::Result<()> {
    let (store, clock) = store_on_manual_clock().await?;
    let soon = clock.now() + TimeDelta::seconds(5);
    for i in 0..4 {
        store
            .put(
                item(&format!("SESSION#{i}"), "S", json!({})).expiring_at(soon),
                None,
            )
            .await?;
    }
    store
        .put(
            item("SESSION#late", "S", json!({})).expiring_at(soon + TimeDelta::hours(1)),
            None,
        )
        .await?;
    store.put(item("USER#1", "P", json!({})), None).await?;
    assert_eq!(store.purge_expired(100).await?, 0);

    clock.advance(TimeDelta::seconds(5));
    assert_eq!(store.purge_expired(3).await?, 3);
    assert_eq!(store.purge_expired(100).await?, 1);
    assert_eq!(store.purge_expired(100).await?, 0);
    assert!(store.get(&Key::new("SESSION#late", "S")).await?.is_some());
    assert!(store.get(&Key::new("USER#1", "P")).await?.is_some());
    Ok(())
}
