//! The item store's conformance cases: reads, writes, conditions, transactions, counters, expiry.
//! Queries are in `store/query.rs`.

mod query;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use shared::store::{Condition, Index, IndexKey, Item, ItemStore, Key, StoreError, Write};

pub use query::*;

pub struct StoreCtx {
    pub store: Arc<dyn ItemStore>,
    /// A prefix no other test uses, for every partition key (table and index) of the case.
    pub ns: String,
}

impl StoreCtx {
    pub fn key(&self, pk: &str, sk: &str) -> Key {
        Key::new(format!("{}#{pk}", self.ns), sk)
    }

    pub fn index_key(&self, pk: &str, sk: &str) -> IndexKey {
        IndexKey::new(format!("{}#{pk}", self.ns), sk)
    }

    pub fn item(&self, pk: &str, sk: &str, attrs: Value) -> Item {
        Item::new(self.key(pk, sk), object(attrs))
    }
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("{other} is not an object"),
    }
}

/// Whole seconds, as the store keeps expiry times.
pub fn in_seconds(delta: TimeDelta) -> DateTime<Utc> {
    DateTime::from_timestamp((Utc::now() + delta).timestamp(), 0).unwrap()
}

pub fn past() -> DateTime<Utc> {
    in_seconds(TimeDelta::hours(-1))
}

pub fn future() -> DateTime<Utc> {
    in_seconds(TimeDelta::hours(1))
}

fn failed_at(result: Result<(), StoreError>) -> Option<usize> {
    match result {
        Err(StoreError::ConditionFailed { index }) => Some(index),
        _ => None,
    }
}

pub async fn a_put_item_reads_back_whole(ctx: StoreCtx) -> anyhow::Result<()> {
    let item = ctx
        .item(
            "P",
            "a",
            json!({"name": "Ada", "n": 3, "tags": ["x"], "nested": {"ok": true}, "none": null}),
        )
        .with_index(Index::Gsi1, ctx.index_key("G1", "g"))
        .with_index(Index::Gsi2, ctx.index_key("G2", "g"))
        .expiring_at(future());
    ctx.store.put(item.clone(), None).await?;
    assert_eq!(ctx.store.get(&item.key).await?, Some(item));
    assert_eq!(ctx.store.get(&ctx.key("P", "missing")).await?, None);
    Ok(())
}

pub async fn a_put_replaces_the_whole_item(ctx: StoreCtx) -> anyhow::Result<()> {
    let first = ctx
        .item("P", "a", json!({"a": 1, "b": 2}))
        .with_index(Index::Gsi1, ctx.index_key("G1", "g"));
    ctx.store.put(first, None).await?;
    let second = ctx.item("P", "a", json!({"a": 3}));
    ctx.store.put(second.clone(), None).await?;
    assert_eq!(ctx.store.get(&second.key).await?, Some(second));
    let indexed = ctx
        .store
        .query(shared::store::Query::index(
            Index::Gsi1,
            format!("{}#G1", ctx.ns),
        ))
        .await?;
    assert!(indexed.items.is_empty(), "the replaced item left the index");
    Ok(())
}

pub async fn a_deleted_item_is_gone_and_deleting_a_missing_item_succeeds(
    ctx: StoreCtx,
) -> anyhow::Result<()> {
    let item = ctx.item("P", "a", json!({}));
    ctx.store.put(item.clone(), None).await?;
    ctx.store.delete(&item.key, None).await?;
    assert_eq!(ctx.store.get(&item.key).await?, None);
    ctx.store.delete(&item.key, None).await?;
    Ok(())
}

pub async fn reserved_attribute_names_are_refused(ctx: StoreCtx) -> anyhow::Result<()> {
    for name in shared::store::RESERVED_ATTRIBUTES {
        let item = ctx.item("P", "a", json!({ *name: "x" }));
        let result = ctx.store.put(item, None).await;
        assert!(
            matches!(result, Err(StoreError::Unexpected(_))),
            "{name}: {result:?}"
        );
    }
    assert_eq!(ctx.store.get(&ctx.key("P", "a")).await?, None);
    Ok(())
}

pub async fn an_expired_item_is_absent(ctx: StoreCtx) -> anyhow::Result<()> {
    let item = ctx.item("P", "a", json!({"n": 1})).expiring_at(past());
    ctx.store.put(item.clone(), None).await?;
    assert_eq!(ctx.store.get(&item.key).await?, None);
    let page = ctx
        .store
        .query(shared::store::Query::partition(&item.key.pk))
        .await?;
    assert!(page.items.is_empty());
    Ok(())
}

pub async fn absent_and_present_guard_writes(ctx: StoreCtx) -> anyhow::Result<()> {
    let first = ctx.item("P", "a", json!({"v": 1}));
    ctx.store
        .put(first.clone(), Some(Condition::Absent))
        .await?;
    let again = ctx
        .store
        .put(ctx.item("P", "a", json!({"v": 2})), Some(Condition::Absent))
        .await;
    assert_eq!(failed_at(again), Some(0));
    assert_eq!(ctx.store.get(&first.key).await?, Some(first.clone()));

    let missing = ctx
        .store
        .put(ctx.item("P", "b", json!({})), Some(Condition::Present))
        .await;
    assert_eq!(failed_at(missing), Some(0));
    assert_eq!(ctx.store.get(&ctx.key("P", "b")).await?, None);
    let replaced = ctx.item("P", "a", json!({"v": 3}));
    ctx.store
        .put(replaced.clone(), Some(Condition::Present))
        .await?;
    assert_eq!(ctx.store.get(&first.key).await?, Some(replaced));

    assert_eq!(
        failed_at(
            ctx.store
                .delete(&ctx.key("P", "b"), Some(Condition::Present))
                .await
        ),
        Some(0)
    );
    ctx.store
        .delete(&first.key, Some(Condition::Present))
        .await?;
    assert_eq!(ctx.store.get(&first.key).await?, None);
    Ok(())
}

pub async fn equals_and_missing_compare_attributes(ctx: StoreCtx) -> anyhow::Result<()> {
    let item = ctx.item("P", "a", json!({"status": "active", "version": 2}));
    ctx.store.put(item.clone(), None).await?;
    let put_if = |condition: Condition| ctx.store.put(item.clone(), Some(condition));

    put_if(Condition::Equals("status".into(), json!("active"))).await?;
    put_if(Condition::Equals("version".into(), json!(2))).await?;
    assert_eq!(
        failed_at(put_if(Condition::Equals("status".into(), json!("locked"))).await),
        Some(0)
    );
    assert_eq!(
        failed_at(put_if(Condition::Equals("version".into(), json!("2"))).await),
        Some(0)
    );
    assert_eq!(
        failed_at(put_if(Condition::Equals("other".into(), json!("x"))).await),
        Some(0)
    );
    put_if(Condition::Missing("deleted_at".into())).await?;
    assert_eq!(
        failed_at(put_if(Condition::Missing("status".into())).await),
        Some(0)
    );
    put_if(Condition::All(vec![
        Condition::Present,
        Condition::Equals("status".into(), json!("active")),
        Condition::Missing("deleted_at".into()),
    ]))
    .await?;
    let one_fails = Condition::All(vec![
        Condition::Equals("status".into(), json!("active")),
        Condition::Missing("version".into()),
    ]);
    assert_eq!(failed_at(put_if(one_fails).await), Some(0));

    let nowhere = ctx
        .store
        .put(
            ctx.item("P", "b", json!({})),
            Some(Condition::Missing("x".into())),
        )
        .await;
    assert_eq!(
        failed_at(nowhere),
        Some(0),
        "missing needs the item to be present"
    );
    Ok(())
}

pub async fn conditions_see_an_expired_item_as_absent(ctx: StoreCtx) -> anyhow::Result<()> {
    let expired = ctx
        .item("P", "a", json!({"status": "active"}))
        .expiring_at(past());
    for condition in [
        Condition::Present,
        Condition::Equals("status".into(), json!("active")),
        Condition::Missing("other".into()),
    ] {
        ctx.store.put(expired.clone(), None).await?;
        let result = ctx
            .store
            .put(ctx.item("P", "a", json!({})), Some(condition.clone()))
            .await;
        assert_eq!(failed_at(result), Some(0), "{condition:?}");
        let result = ctx
            .store
            .delete(&expired.key, Some(condition.clone()))
            .await;
        assert_eq!(failed_at(result), Some(0), "{condition:?}");
    }
    let fresh = ctx.item("P", "a", json!({"status": "new"}));
    ctx.store
        .put(fresh.clone(), Some(Condition::Absent))
        .await?;
    assert_eq!(ctx.store.get(&fresh.key).await?, Some(fresh));
    Ok(())
}

/// The two ways to commit a transaction, which differ only in what they wait for.
#[derive(Debug, Clone, Copy)]
enum Commit {
    Durable,
    FailSafe,
}

impl Commit {
    const BOTH: [Commit; 2] = [Commit::Durable, Commit::FailSafe];

    async fn transact(self, ctx: &StoreCtx, writes: Vec<Write>) -> Result<(), StoreError> {
        match self {
            Commit::Durable => ctx.store.transact(writes).await,
            Commit::FailSafe => ctx.store.transact_fail_safe(writes).await,
        }
    }
}

pub async fn a_transaction_applies_every_write(ctx: StoreCtx) -> anyhow::Result<()> {
    for commit in Commit::BOTH {
        let (p, q) = (format!("P{commit:?}"), format!("Q{commit:?}"));
        let (kept, gone) = (
            ctx.item(&p, "kept", json!({})),
            ctx.item(&p, "gone", json!({})),
        );
        ctx.store.put(kept.clone(), None).await?;
        ctx.store.put(gone.clone(), None).await?;
        let (a, b) = (
            ctx.item(&p, "a", json!({"v": 1})),
            ctx.item(&q, "b", json!({"v": 2})),
        );
        let writes = vec![
            Write::put_if(a.clone(), Condition::Absent),
            Write::put(b.clone()),
            Write::delete_if(gone.key.clone(), Condition::Present),
            Write::check(kept.key.clone(), Condition::Present),
        ];
        commit.transact(&ctx, writes).await?;
        assert_eq!(ctx.store.get(&a.key).await?, Some(a), "{commit:?}");
        assert_eq!(ctx.store.get(&b.key).await?, Some(b), "{commit:?}");
        assert_eq!(ctx.store.get(&gone.key).await?, None, "{commit:?}");
        assert_eq!(ctx.store.get(&kept.key).await?, Some(kept), "{commit:?}");
    }
    Ok(())
}

pub async fn a_failed_transaction_applies_nothing_and_names_the_failing_write(
    ctx: StoreCtx,
) -> anyhow::Result<()> {
    for commit in Commit::BOTH {
        let p = format!("P{commit:?}");
        let existing = ctx.item(&p, "existing", json!({"v": 1}));
        ctx.store.put(existing.clone(), None).await?;
        let new = ctx.item(&p, "new", json!({}));
        let writes = vec![
            Write::put(new.clone()),
            Write::delete(existing.key.clone()),
            Write::check(ctx.key(&p, "nowhere"), Condition::Present),
        ];
        let result = commit.transact(&ctx, writes).await;
        assert_eq!(failed_at(result), Some(2), "{commit:?}");
        assert_eq!(ctx.store.get(&new.key).await?, None, "{commit:?}");
        assert_eq!(
            ctx.store.get(&existing.key).await?,
            Some(existing.clone()),
            "{commit:?}"
        );

        let writes = vec![
            Write::put_if(
                ctx.item(&p, "existing", json!({"v": 2})),
                Condition::Equals("v".into(), json!(9)),
            ),
            Write::put(new.clone()),
        ];
        let result = commit.transact(&ctx, writes).await;
        assert_eq!(failed_at(result), Some(0), "{commit:?}");
        assert_eq!(
            ctx.store.get(&existing.key).await?,
            Some(existing),
            "{commit:?}"
        );
        assert_eq!(ctx.store.get(&new.key).await?, None, "{commit:?}");
    }
    Ok(())
}

pub async fn add_creates_a_counter_from_zero_with_its_expiry(ctx: StoreCtx) -> anyhow::Result<()> {
    let key = ctx.key("RATE", "login");
    let window = future();
    assert_eq!(ctx.store.add(&key, "hits", 3, Some(window)).await?, 3);
    let item = ctx.store.get(&key).await?;
    assert_eq!(
        item.as_ref().map(|i| &i.attrs),
        Some(&object(json!({"hits": 3})))
    );
    assert_eq!(item.and_then(|i| i.expires_at), Some(window));
    Ok(())
}

pub async fn add_increments_and_keeps_the_existing_expiry_and_attributes(
    ctx: StoreCtx,
) -> anyhow::Result<()> {
    let item = ctx
        .item("P", "a", json!({"name": "x"}))
        .expiring_at(future());
    ctx.store.put(item.clone(), None).await?;
    assert_eq!(
        ctx.store
            .add(&item.key, "n", 2, Some(in_seconds(TimeDelta::hours(5))))
            .await?,
        2
    );
    assert_eq!(ctx.store.add(&item.key, "n", -5, None).await?, -3);
    let stored = ctx.store.get(&item.key).await?;
    assert_eq!(
        stored.as_ref().map(|i| &i.attrs),
        Some(&object(json!({"name": "x", "n": -3})))
    );
    assert_eq!(stored.and_then(|i| i.expires_at), item.expires_at);

    let lasting = ctx.item("P", "lasting", json!({"name": "y"}));
    ctx.store.put(lasting.clone(), None).await?;
    assert_eq!(
        ctx.store.add(&lasting.key, "n", 1, Some(future())).await?,
        1
    );
    let stored = ctx.store.get(&lasting.key).await?;
    assert_eq!(
        stored.map(|i| (i.attrs, i.expires_at)),
        Some((object(json!({"name": "y", "n": 1})), None)),
        "an item without expiry keeps having none"
    );
    Ok(())
}

pub async fn add_over_an_expired_item_starts_from_zero(ctx: StoreCtx) -> anyhow::Result<()> {
    let old = ctx
        .item("RATE", "ip", json!({"hits": 40, "other": true}))
        .expiring_at(past());
    ctx.store.put(old.clone(), None).await?;
    let window = future();
    assert_eq!(ctx.store.add(&old.key, "hits", 1, Some(window)).await?, 1);
    let stored = ctx.store.get(&old.key).await?;
    assert_eq!(
        stored.as_ref().map(|i| &i.attrs),
        Some(&object(json!({"hits": 1})))
    );
    assert_eq!(stored.and_then(|i| i.expires_at), Some(window));
    Ok(())
}

pub async fn concurrent_adds_sum_correctly(ctx: StoreCtx) -> anyhow::Result<()> {
    let key = ctx.key("COUNTER", "c");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, key) = (Arc::clone(&ctx.store), key.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..5 {
                    seen.push(store.add(&key, "n", 1, None).await?);
                }
                anyhow::Ok(seen)
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(task.await??);
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=40).collect::<Vec<i64>>(),
        "every add saw its own new value"
    );
    assert_eq!(
        ctx.store.get(&key).await?.map(|i| i.attrs["n"].clone()),
        Some(json!(40))
    );
    Ok(())
}

pub async fn purge_expired_removes_only_expired_items(ctx: StoreCtx) -> anyhow::Result<()> {
    for sk in ["x1", "x2", "x3"] {
        ctx.store
            .put(ctx.item("P", sk, json!({})).expiring_at(past()), None)
            .await?;
    }
    let live = ctx.item("P", "live", json!({})).expiring_at(future());
    ctx.store.put(live.clone(), None).await?;
    let mut purged = 0;
    for _ in 0..1000 {
        match ctx.store.purge_expired(2).await? {
            0 => break,
            n => purged += n,
        }
    }
    assert!(purged >= 3, "purged {purged}");
    assert_eq!(ctx.store.get(&live.key).await?, Some(live));
    Ok(())
}

/// Instantiates every store case for one implementation: `store_suite!(local, factory)` where
/// `factory()` is an async fn returning `anyhow::Result<(StoreCtx, guard)>`. An implementation that
/// cannot show a case adds `except { case: "why" }` (see `instantiate!`).
macro_rules! store_suite {
    ($name:ident, $factory:expr $(, except { $($skip:ident: $reason:literal),* $(,)? })?) => {
        mod $name {
            crate::conformance::instantiate!($factory; except { $($($skip: $reason),*)? };
                a_put_item_reads_back_whole,
                a_put_replaces_the_whole_item,
                a_deleted_item_is_gone_and_deleting_a_missing_item_succeeds,
                reserved_attribute_names_are_refused,
                an_expired_item_is_absent,
                absent_and_present_guard_writes,
                equals_and_missing_compare_attributes,
                conditions_see_an_expired_item_as_absent,
                a_transaction_applies_every_write,
                a_failed_transaction_applies_nothing_and_names_the_failing_write,
                add_creates_a_counter_from_zero_with_its_expiry,
                add_increments_and_keeps_the_existing_expiry_and_attributes,
                add_over_an_expired_item_starts_from_zero,
                concurrent_adds_sum_correctly,
                purge_expired_removes_only_expired_items,
                queries_return_a_partition_in_utf8_byte_order,
                sort_key_conditions_select_their_range,
                index_queries_order_by_index_sort_key_then_primary_key,
                pages_follow_cursors_to_the_end,
                queries_skip_expired_items,
                a_cursor_from_another_query_is_refused,
            );
        }
    };
}
store_suite!(local, crate::conformance::local::store);
store_suite!(aws, crate::conformance::aws::store);
