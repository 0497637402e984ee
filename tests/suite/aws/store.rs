//! The DynamoDB item store.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use shared::clock::{Clock, ManualClock};
use shared::store::{
    Condition, Index, IndexKey, Item, ItemStore, Key, Query, SortKey, StoreError, Write,
};
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
async fn an_item_reads_back_as_it_was_put() -> anyhow::Result<()> {
    let store = provision::store(moto().await?).await?;
    let at = Utc::now() + TimeDelta::hours(1);
    let original = item(
        "USER#1",
        "PROFILE",
        json!({"email": "a@example.com", "n": 3, "ok": true, "tags": ["x"], "nested": {"k": null}}),
    )
    .with_index(Index::Gsi1, IndexKey::new("EMAIL#a@example.com", "USER#1"))
    .with_index(Index::Gsi2, IndexKey::new("ALL", "2024"))
    .expiring_at(chrono::DateTime::from_timestamp(at.timestamp(), 0).unwrap_or_default());
    store.put(original.clone(), None).await?;
    assert_eq!(store.get(&original.key).await?, Some(original.clone()));

    store
        .put(
            item("USER#1", "PROFILE", json!({"email": "b@example.com"})),
            None,
        )
        .await?;
    let replaced = store.get(&original.key).await?;
    assert_eq!(
        replaced,
        Some(item("USER#1", "PROFILE", json!({"email": "b@example.com"}))),
        "a put replaces the whole item"
    );

    store.delete(&original.key, None).await?;
    assert_eq!(store.get(&original.key).await?, None);
    store.delete(&original.key, None).await?;
    Ok(())
}

#[tokio::test]
async fn a_reserved_attribute_name_is_refused() -> anyhow::Result<()> {
    let store = provision::store(moto().await?).await?;
    let result = store.put(item("P", "S", json!({"ttl": 1})), None).await;
    assert!(
        matches!(result, Err(StoreError::Unexpected(_))),
        "{result:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_conditional_put_over_an_existing_item_fails() -> anyhow::Result<()> {
    let store = provision::store(moto().await?).await?;
    let first = item("P", "S", json!({"v": 1}));
    store.put(first.clone(), Some(Condition::Absent)).await?;
    let second = store
        .put(item("P", "S", json!({"v": 2})), Some(Condition::Absent))
        .await;
    assert!(
        matches!(second, Err(StoreError::ConditionFailed { index: 0 })),
        "{second:?}"
    );
    assert_eq!(store.get(&first.key).await?, Some(first));
    Ok(())
}

#[tokio::test]
async fn conditions_on_attributes_require_a_present_item() -> anyhow::Result<()> {
    let store = provision::store(moto().await?).await?;
    let key = Key::new("P", "S");
    let missing = store
        .put(item("P", "S", json!({"v": 1})), Some(Condition::Present))
        .await;
    assert!(
        matches!(missing, Err(StoreError::ConditionFailed { .. })),
        "{missing:?}"
    );
    let missing = store
        .delete(&key, Some(Condition::Missing("x".into())))
        .await;
    assert!(
        matches!(missing, Err(StoreError::ConditionFailed { .. })),
        "{missing:?}"
    );

    store
        .put(item("P", "S", json!({"status": "active"})), None)
        .await?;
    let wrong = store
        .put(
            item("P", "S", json!({"v": 2})),
            Some(Condition::Equals("status".into(), json!("locked"))),
        )
        .await;
    assert!(
        matches!(wrong, Err(StoreError::ConditionFailed { .. })),
        "{wrong:?}"
    );
    let both = Condition::All(vec![
        Condition::Equals("status".into(), json!("active")),
        Condition::Missing("deleted".into()),
    ]);
    store
        .put(item("P", "S", json!({"status": "locked"})), Some(both))
        .await?;
    store
        .delete(
            &key,
            Some(Condition::Equals("status".into(), json!("locked"))),
        )
        .await?;
    assert_eq!(store.get(&key).await?, None);
    Ok(())
}

#[tokio::test]
async fn a_failing_transaction_names_the_failing_write_and_writes_nothing() -> anyhow::Result<()> {
    let store = provision::store(moto().await?).await?;
    store.put(item("P", "taken", json!({})), None).await?;
    store.put(item("P", "doomed", json!({})), None).await?;
    let result = store
        .transact(vec![
            Write::put_if(item("P", "new", json!({})), Condition::Absent),
            Write::delete(Key::new("P", "doomed")),
            Write::put_if(item("P", "taken", json!({"v": 2})), Condition::Absent),
        ])
        .await;
    assert!(
        matches!(result, Err(StoreError::ConditionFailed { index: 2 })),
        "{result:?}"
    );
    assert_eq!(store.get(&Key::new("P", "new")).await?, None);
    assert!(store.get(&Key::new("P", "doomed")).await?.is_some());

    store
        .transact(vec![
            Write::put_if(item("P", "new", json!({})), Condition::Absent),
            Write::delete_if(Key::new("P", "doomed"), Condition::Present),
            Write::check(Key::new("P", "taken"), Condition::Present),
        ])
        .await?;
    assert!(store.get(&Key::new("P", "new")).await?.is_some());
    assert_eq!(store.get(&Key::new("P", "doomed")).await?, None);
    Ok(())
}

#[tokio::test]
async fn an_expired_item_is_absent() -> anyhow::Result<()> {
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
async fn a_query_pages_through_a_partition_with_cursors() -> anyhow::Result<()> {
    let store = provision::store(moto().await?).await?;
    for i in 0..5 {
        store
            .put(item("P", &format!("S#{i}"), json!({"i": i})), None)
            .await?;
    }
    store.put(item("OTHER", "S#0", json!({})), None).await?;

    let mut seen = Vec::new();
    let mut query = Query::partition("P").limit(2);
    loop {
        let page = store.query(query.clone()).await?;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|i| i.key.sk.clone()));
        let Some(next) = page.next else { break };
        assert!(
            next.0
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{next}"
        );
        query = query.after(Some(next));
    }
    assert_eq!(seen, ["S#0", "S#1", "S#2", "S#3", "S#4"]);

    let sks =
        |page: shared::store::Page| page.items.into_iter().map(|i| i.key.sk).collect::<Vec<_>>();
    assert_eq!(
        sks(store
            .query(Query::partition("P").descending().limit(2))
            .await?),
        ["S#4", "S#3"]
    );
    assert_eq!(
        sks(store
            .query(Query::partition("P").sort_key(SortKey::Between("S#1".into(), "S#3".into())))
            .await?),
        ["S#1", "S#2", "S#3"]
    );
    assert_eq!(
        sks(store
            .query(Query::partition("P").sort_key(SortKey::GreaterThan("S#3".into())))
            .await?),
        ["S#4"]
    );
    assert_eq!(
        sks(store
            .query(Query::partition("P").sort_key(SortKey::LessThan("S#1".into())))
            .await?),
        ["S#0"]
    );
    assert_eq!(
        sks(store
            .query(Query::partition("P").sort_key(SortKey::Equals("S#2".into())))
            .await?),
        ["S#2"]
    );
    assert_eq!(
        sks(store
            .query(Query::partition("P").sort_key(SortKey::BeginsWith("S#".into())))
            .await?)
        .len(),
        5
    );
    Ok(())
}

#[tokio::test]
async fn an_index_query_pages_and_refuses_a_foreign_cursor() -> anyhow::Result<()> {
    let store = provision::store(moto().await?).await?;
    for i in 0..3 {
        let it = item(&format!("USER#{i}"), "PROFILE", json!({})).with_index(
            Index::Gsi2,
            IndexKey::new("ROLE#admin", format!("USER#{i}")),
        );
        store.put(it, None).await?;
    }
    let first = store
        .query(Query::index(Index::Gsi2, "ROLE#admin").limit(2))
        .await?;
    assert_eq!(first.items.len(), 2);
    let next = first.next.clone();
    assert!(next.is_some());
    let rest = store
        .query(
            Query::index(Index::Gsi2, "ROLE#admin")
                .limit(2)
                .after(next.clone()),
        )
        .await?;
    assert_eq!(
        rest.items
            .iter()
            .map(|i| i.key.pk.as_str())
            .collect::<Vec<_>>(),
        ["USER#2"]
    );

    let foreign = store
        .query(Query::index(Index::Gsi2, "ROLE#other").after(next.clone()))
        .await;
    assert!(
        matches!(foreign, Err(StoreError::InvalidCursor)),
        "{foreign:?}"
    );
    let foreign = store
        .query(Query::partition("ROLE#admin").after(next))
        .await;
    assert!(
        matches!(foreign, Err(StoreError::InvalidCursor)),
        "{foreign:?}"
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
