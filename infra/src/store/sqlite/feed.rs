//! The local change feed: one row per committed change, written in the writing transaction.

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use shared::store::{Item, Key};

use shared::store::wire;

/// One committed change of one item, as a DynamoDB stream record with both images would carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Position in the feed: strictly increasing, never reused.
    pub seq: u64,
    pub kind: ChangeKind,
    pub key: Key,
    pub old: Option<Item>,
    pub new: Option<Item>,
    pub at: DateTime<Utc>,
    /// A removal because the item expired (what a TTL deletion is on DynamoDB), not because a
    /// caller deleted or replaced a live item.
    pub expired: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "insert",
            ChangeKind::Modify => "modify",
            ChangeKind::Remove => "remove",
        }
    }

    fn parse(s: &str) -> anyhow::Result<Self> {
        match s {
            "insert" => Ok(ChangeKind::Insert),
            "modify" => Ok(ChangeKind::Modify),
            "remove" => Ok(ChangeKind::Remove),
            other => Err(anyhow!("unknown change kind {other:?}")),
        }
    }
}

/// A change about to be recorded.
pub(super) struct NewChange<'a> {
    pub kind: ChangeKind,
    pub key: &'a Key,
    pub old: Option<&'a Item>,
    pub new: Option<&'a Item>,
    pub at: DateTime<Utc>,
    pub expired: bool,
}

pub(super) fn record(conn: &Connection, change: NewChange<'_>) -> anyhow::Result<()> {
    let image = |item: Option<&Item>| item.map(|i| Value::Object(wire::to_wire(i)).to_string());
    conn.execute(
        "INSERT INTO changes (kind, pk, sk, old, new, at_ms, expired) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            change.kind.as_str(),
            change.key.pk,
            change.key.sk,
            image(change.old),
            image(change.new),
            change.at.timestamp_millis(),
            change.expired,
        ],
    )
    .context("recording a change")?;
    Ok(())
}

pub(super) fn changes_after(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> anyhow::Result<Vec<Change>> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = conn.prepare_cached(
        "SELECT seq, kind, pk, sk, old, new, at_ms, expired FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = statement.query_map(params![after, limit], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            Key::new(row.get::<_, String>(2)?, row.get::<_, String>(3)?),
            row.get::<_, Option<String>>(4)?,
            row.get::<_, Option<String>>(5)?,
            row.get::<_, i64>(6)?,
            row.get::<_, bool>(7)?,
        ))
    })?;
    rows.map(|row| {
        let (seq, kind, key, old, new, at_ms, expired) = row?;
        Ok(Change {
            seq: u64::try_from(seq).context("negative change sequence")?,
            kind: ChangeKind::parse(&kind)?,
            old: old.as_deref().map(parse_image).transpose()?,
            new: new.as_deref().map(parse_image).transpose()?,
            at: DateTime::from_timestamp_millis(at_ms)
                .with_context(|| format!("change time {at_ms} is out of range"))?,
            key,
            expired,
        })
    })
    .collect::<anyhow::Result<_>>()
    .context("reading the change feed")
}

pub(super) fn position(conn: &Connection, consumer: &str) -> anyhow::Result<u64> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM feed_positions WHERE consumer = ?1",
            [consumer],
            |row| row.get(0),
        )
        .optional()?;
    u64::try_from(seq.unwrap_or(0)).context("negative feed position")
}

pub(super) fn set_position(conn: &Connection, consumer: &str, seq: u64) -> anyhow::Result<()> {
    let seq = i64::try_from(seq).context("feed position out of range")?;
    conn.execute(
        "INSERT INTO feed_positions (consumer, seq) VALUES (?1, ?2)
         ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq",
        params![consumer, seq],
    )?;
    Ok(())
}

/// How long the feed keeps a change: DynamoDB Streams' 24 hours. A consumer further behind
/// than that misses what was trimmed, as it would on AWS; without a limit the feed would grow
/// with every write for ever.
pub(super) const RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Removes the changes committed before `before`; how many.
pub(super) fn trim(conn: &Connection, before: DateTime<Utc>) -> anyhow::Result<usize> {
    conn.execute(
        "DELETE FROM changes WHERE at_ms < ?1",
        [before.timestamp_millis()],
    )
    .context("trimming the change feed")
}

/// An item from its stored wire form.
pub(super) fn parse_image(json: &str) -> anyhow::Result<Item> {
    let flat: Map<String, Value> =
        serde_json::from_str(json).context("a stored item is not a JSON object")?;
    wire::from_wire(flat)
}
