//! The local item store: SQLite, with the change feed written in each write's own transaction.
//!
//! An expired item stays in the table until [`ItemStore::purge_expired`] removes it or a write
//! replaces it, but no read, query or condition sees it. Whichever way it finally leaves, the
//! feed records a removal marked `expired`, as a TTL deletion's stream record is on DynamoDB,
//! before any new item under its key.

mod conditions;
mod feed;
mod query;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;
use shared::clock::Clock;
use shared::store::{
    Condition, Item, ItemStore, Key, MAX_TRANSACTION_WRITES, Page, Query, RESERVED_ATTRIBUTES,
    StoreError, Write,
};
use tokio::sync::Notify;

use feed::NewChange;
pub use feed::{Change, ChangeKind};

use crate::local_db::LocalDb;
use shared::store::wire;

#[derive(Debug, Clone)]
pub struct LocalStore {
    db: LocalDb,
    clock: Arc<dyn Clock>,
}

impl LocalStore {
    pub fn new(db: LocalDb, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Changes with `seq > after`, oldest first, at most `limit`.
    pub async fn changes_after(&self, after: u64, limit: usize) -> anyhow::Result<Vec<Change>> {
        self.db
            .run(move |conn| feed::changes_after(conn, after, limit))
            .await
    }

    /// The last position `consumer` saved; 0 when it never saved one.
    pub async fn feed_position(&self, consumer: &str) -> anyhow::Result<u64> {
        let consumer = consumer.to_owned();
        self.db
            .run(move |conn| feed::position(conn, &consumer))
            .await
    }

    pub async fn set_feed_position(&self, consumer: &str, seq: u64) -> anyhow::Result<()> {
        let consumer = consumer.to_owned();
        self.db
            .run(move |conn| feed::set_position(conn, &consumer, seq))
            .await
    }

    /// Signalled whenever a write of this process commits, so a feed reader need not poll
    /// for them. Register interest (`Notified::enable`) before reading the feed, or a commit
    /// in between goes unnoticed until the next poll.
    pub fn feed_changes(&self) -> Arc<Notify> {
        self.db.feed_changes()
    }

    /// Runs `work` in one write transaction at the clock's current time, committed to the disk
    /// before it returns.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, DateTime<Utc>) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_with(Durability::Disk, work).await
    }

    async fn write_with<T, F>(&self, durability: Durability, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, DateTime<Utc>) -> Result<T, StoreError> + Send + 'static,
    {
        let clock = Arc::clone(&self.clock);
        let result = self
            .db
            .run(move |conn| {
                if let Durability::Process = durability {
                    // For this transaction only: every write of the database starts at FULL
                    // again (`LocalDb::run`).
                    conn.pragma_update(None, "synchronous", "NORMAL")
                        .context("relaxing a commit's durability")?;
                }
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .context("starting a write transaction")?;
                // Read the time once the database is ours, so feed times follow feed order.
                let result = work(&tx, clock.now())?;
                tx.commit().context("committing a write")?;
                Ok::<_, StoreError>(result)
            })
            .await?;
        self.db.feed_changes().notify_waiters();
        Ok(result)
    }

    /// Applies `writes` in one transaction, committed as `durability` says.
    async fn transact_as(
        &self,
        durability: Durability,
        writes: Vec<Write>,
    ) -> Result<(), StoreError> {
        check_writes(&writes)?;
        self.write_with(durability, move |conn, now| {
            // Every condition is checked against the state before the transaction: no two
            // writes share a key, so none can see another's effect.
            let mut current = Vec::with_capacity(writes.len());
            for (index, write) in writes.iter().enumerate() {
                let stored = load(conn, write.key(), now)?;
                if condition_of(write).is_some_and(|c| !conditions::holds(c, live(stored.as_ref())))
                {
                    return Err(StoreError::ConditionFailed { index });
                }
                current.push(stored);
            }
            for (write, stored) in writes.iter().zip(current) {
                match write {
                    Write::Put { item, .. } => {
                        let old = retire_expired(conn, stored, now)?;
                        store(conn, item, old.as_ref(), now)?;
                    }
                    Write::Delete { .. } => {
                        if let Some(Stored { item, expired }) = stored {
                            remove(conn, &item, now, expired)?;
                        }
                    }
                    Write::Check { .. } => {}
                }
            }
            Ok(())
        })
        .await
    }
}

/// What a write must have survived when it returns.
#[derive(Debug, Clone, Copy)]
enum Durability {
    /// The machine losing power: its commit waits for the disk (`synchronous=FULL`).
    Disk,
    /// The process dying: its commit is written to the log but not waited for on the disk,
    /// which the next `Disk` commit, or a checkpoint, does for it (`synchronous=NORMAL`; a
    /// power loss may roll it back, never tear it).
    Process,
}

/// An item as stored, live or not.
struct Stored {
    item: Item,
    expired: bool,
}

fn load(conn: &Connection, key: &Key, now: DateTime<Utc>) -> anyhow::Result<Option<Stored>> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM items WHERE pk = ?1 AND sk = ?2")?
        .query_row(params![key.pk, key.sk], |row| row.get(0))
        .optional()
        .context("reading an item")?;
    body.map(|body| {
        let item = feed::parse_image(&body)?;
        Ok(Stored {
            expired: item.is_expired_at(now),
            item,
        })
    })
    .transpose()
}

fn live(stored: Option<&Stored>) -> Option<&Item> {
    stored.filter(|s| !s.expired).map(|s| &s.item)
}

/// Removes `stored` when it is expired, recording the expiry; returns the live item, if any.
fn retire_expired(
    conn: &Connection,
    stored: Option<Stored>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Item>> {
    match stored {
        Some(Stored {
            item,
            expired: true,
        }) => {
            remove(conn, &item, now, true)?;
            Ok(None)
        }
        other => Ok(other.map(|s| s.item)),
    }
}

fn store(
    conn: &Connection,
    item: &Item,
    old: Option<&Item>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let index =
        |i: Option<&shared::store::IndexKey>| (i.map(|k| k.pk.clone()), i.map(|k| k.sk.clone()));
    let (gsi1pk, gsi1sk) = index(item.gsi1.as_ref());
    let (gsi2pk, gsi2sk) = index(item.gsi2.as_ref());
    conn.prepare_cached(
        "INSERT OR REPLACE INTO items (pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, expires_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        item.key.pk,
        item.key.sk,
        gsi1pk,
        gsi1sk,
        gsi2pk,
        gsi2sk,
        item.expires_at.map(|at| at.timestamp()),
        Value::Object(wire::to_wire(item)).to_string(),
    ])
    .context("writing an item")?;
    let kind = if old.is_some() {
        ChangeKind::Modify
    } else {
        ChangeKind::Insert
    };
    feed::record(
        conn,
        NewChange {
            kind,
            key: &item.key,
            old,
            new: Some(item),
            at: now,
            expired: false,
        },
    )
}

fn remove(conn: &Connection, item: &Item, now: DateTime<Utc>, expired: bool) -> anyhow::Result<()> {
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")?
        .execute(params![item.key.pk, item.key.sk])
        .context("removing an item")?;
    let change = NewChange {
        kind: ChangeKind::Remove,
        key: &item.key,
        old: Some(item),
        new: None,
        at: now,
        expired,
    };
    feed::record(conn, change)
}

fn check_writes(writes: &[Write]) -> Result<(), StoreError> {
    if writes.len() > MAX_TRANSACTION_WRITES {
        return Err(anyhow!(
            "a transaction holds at most {MAX_TRANSACTION_WRITES} writes, not {}",
            writes.len()
        )
        .into());
    }
    let mut keys = HashSet::new();
    for write in writes {
        if !keys.insert(write.key()) {
            let key = write.key();
            return Err(anyhow!("a transaction writes {}/{} twice", key.pk, key.sk).into());
        }
        if let Write::Put { item, .. } = write {
            item.check_attribute_names()?;
        }
    }
    Ok(())
}

fn condition_of(write: &Write) -> Option<&Condition> {
    match write {
        Write::Put { condition, .. } | Write::Delete { condition, .. } => condition.as_ref(),
        Write::Check { condition, .. } => Some(condition),
    }
}

#[async_trait]
impl ItemStore for LocalStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        let now = self.clock.now();
        let stored = self.db.read(move |conn| load(conn, &key, now)).await?;
        Ok(stored.filter(|s| !s.expired).map(|s| s.item))
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.transact(vec![Write::Put { item, condition }]).await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError> {
        self.transact(vec![Write::Delete {
            key: key.clone(),
            condition,
        }])
        .await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.transact_as(Durability::Disk, writes).await
    }

    async fn transact_fail_safe(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.transact_as(Durability::Process, writes).await
    }

    async fn add(
        &self,
        key: &Key,
        attribute: &str,
        delta: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError> {
        if RESERVED_ATTRIBUTES.contains(&attribute) {
            return Err(anyhow!("attribute name {attribute:?} is reserved by the store").into());
        }
        let (key, attribute) = (key.clone(), attribute.to_owned());
        // A counter (the throttles' attempts) is committed without waiting for the disk: the
        // count survives the process at once, and a power loss with the next write that waits
        // for it. Each such wait was most of what a login added to its argon2 verification
        // here (README, "Benchmarks").
        self.write_with(Durability::Process, move |conn, now| {
            let stored = load(conn, &key, now)?;
            let old = retire_expired(conn, stored, now)?;
            let (item, value) = match &old {
                Some(old) => {
                    let current = match old.attrs.get(&attribute) {
                        None => 0,
                        Some(value) => value.as_i64().with_context(|| {
                            format!(
                                "attribute {attribute:?} of {}/{} is not an integer",
                                key.pk, key.sk
                            )
                        })?,
                    };
                    let value = current
                        .checked_add(delta)
                        .with_context(|| format!("adding {delta} to {current} overflows"))?;
                    let mut item = old.clone();
                    item.attrs.insert(attribute, value.into());
                    (item, value)
                }
                None => {
                    let mut item =
                        Item::new(key, [(attribute, delta.into())].into_iter().collect());
                    item.expires_at = expires_at;
                    (item, delta)
                }
            };
            store(conn, &item, old.as_ref(), now)?;
            Ok(value)
        })
        .await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let now = self.clock.now().timestamp();
        self.db
            .read(move |conn| query::page(conn, &query, now))
            .await
    }

    async fn purge_expired(&self, limit: usize) -> Result<usize, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |conn, now| {
            let bodies = conn
                .prepare_cached(
                    "SELECT body FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?1
                     ORDER BY expires_at LIMIT ?2",
                )
                .context("finding expired items")?
                .query_map(params![now.timestamp(), limit], |row| {
                    row.get::<_, String>(0)
                })
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .context("finding expired items")?;
            for body in &bodies {
                remove(conn, &feed::parse_image(body)?, now, true)?;
            }
            // The feed's own expiry, on the same schedule.
            let trimmed = feed::trim(conn, now - feed::RETENTION)?;
            if trimmed > 0 {
                tracing::debug!(trimmed, "change feed trimmed");
            }
            Ok(bodies.len())
        })
        .await
    }
}
