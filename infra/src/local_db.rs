//! The one SQLite database behind the local store, its change feed and the local queues.
//!
//! One connection behind a mutex serializes every write of the process, so a transaction never
//! waits on another connection of its own; `busy_timeout` covers a second process opening the
//! same file. Reads of the item store run on read-only connections of their own, as many as
//! read at once: WAL lets them read beside the writer, each statement seeing every transaction
//! committed before it began. WAL with `synchronous=FULL` makes every committed transaction
//! survive a crash or power loss; the item store's counters and fail-safe transactions alone
//! are committed without waiting for the disk, which the next write does for them
//! (`store::sqlite`, `Durability`).
//! Writes run off the executor (`shared::blocking`: in place on a multi-threaded runtime, on
//! the blocking pool otherwise); reads, which never wait for a writer, on the calling thread.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Notify;

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Each entry migrates the schema from version `i` to `i + 1`; append, never edit.
const MIGRATIONS: &[&str] = &[r"
    CREATE TABLE items (
        pk TEXT NOT NULL,
        sk TEXT NOT NULL,
        gsi1pk TEXT,
        gsi1sk TEXT,
        gsi2pk TEXT,
        gsi2sk TEXT,
        expires_at INTEGER,
        body TEXT NOT NULL,
        PRIMARY KEY (pk, sk)
    ) WITHOUT ROWID;
    CREATE INDEX items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
    CREATE INDEX items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
    CREATE INDEX items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;

    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        pk TEXT NOT NULL,
        sk TEXT NOT NULL,
        old TEXT,
        new TEXT,
        at_ms INTEGER NOT NULL,
        expired INTEGER NOT NULL
    );

    CREATE TABLE feed_positions (
        consumer TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        queue TEXT NOT NULL,
        body TEXT NOT NULL,
        sent_at_ms INTEGER NOT NULL,
        visible_at_ms INTEGER NOT NULL,
        receive_count INTEGER NOT NULL,
        receipt TEXT
    );
    CREATE INDEX messages_visible ON messages (queue, visible_at_ms);
    CREATE UNIQUE INDEX messages_receipt ON messages (receipt) WHERE receipt IS NOT NULL;
"];

/// A handle on the local database; clones share the connection.
#[derive(Clone)]
pub struct LocalDb {
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections not in use; a read takes one or opens one.
    readers: Arc<Mutex<Vec<Connection>>>,
    path: Arc<PathBuf>,
    /// Wakes receivers waiting on a queue of this process when a message arrives.
    arrivals: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
    /// Wakes readers of the change feed when a write of this process commits.
    feed: Arc<Notify>,
}

impl fmt::Debug for LocalDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalDb")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalDb {
    /// Opens (creating when missing) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::private::dir(parent)?;
        }
        // SQLite gives its -wal and -shm files the database file's permissions.
        crate::private::create_or_keep(path)?;
        for file in [
            path.to_owned(),
            with_suffix(path, "-wal"),
            with_suffix(path, "-shm"),
        ] {
            crate::private::restrict(&file)?;
        }
        let mut conn = Connection::open(path)
            .with_context(|| format!("opening the database {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .context("setting the busy timeout")?;
        stable_plans(&conn)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .context("switching to WAL")?;
        if !mode.eq_ignore_ascii_case("wal") {
            bail!(
                "the database {} refused WAL mode (got {mode})",
                path.display()
            );
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .context("setting synchronous=FULL")?;
        migrate(&mut conn).with_context(|| format!("migrating the database {}", path.display()))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::default(),
            path: Arc::new(path.to_owned()),
            arrivals: Arc::default(),
            feed: Arc::default(),
        })
    }

    /// Runs blocking work on the connection, off the executor.
    pub(crate) async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<anyhow::Error> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        shared::blocking::blocking(move || {
            // A panic mid-transaction drops the rusqlite Transaction, which rolls back: the
            // connection behind a poisoned lock is still consistent.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            // Every write waits for the disk unless it says otherwise for itself (the item
            // store's counters), whatever the write before it said or how it ended.
            conn.pragma_update(None, "synchronous", "FULL")
                .context("setting synchronous=FULL")?;
            work(&mut conn)
        })
        .await
        .map_err(|e| E::from(anyhow::Error::new(e).context("a database task did not finish")))?
    }

    /// Runs a read on a read-only connection, beside the writer and other readers, on the
    /// calling thread.
    ///
    /// Unlike writes, reads stay on the async thread: in WAL mode a reader never waits for the
    /// writer or for a checkpoint (only for the WAL index's recovery after a crash, once), and
    /// the item store's reads are point reads and bounded pages that take tens of microseconds,
    /// less than the hop to the blocking pool and back (README, "Benchmarks").
    pub(crate) async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        E: From<anyhow::Error>,
        F: FnOnce(&Connection) -> Result<T, E>,
    {
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let result = work(&conn);
        self.readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
        result
    }

    /// The signal of commits to the change feed by this process (another process's writes
    /// are only seen by polling).
    pub(crate) fn feed_changes(&self) -> Arc<Notify> {
        Arc::clone(&self.feed)
    }

    /// The signal of message arrivals on one queue, shared by every handle on that queue.
    pub(crate) fn arrivals(&self, queue: &str) -> Arc<Notify> {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(arrivals.entry(queue.to_owned()).or_default())
    }
}

/// `path` with `suffix` appended to its file name, as SQLite names its companion files.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A read-only connection to the database at `path`, which the writer has set up (WAL, schema).
fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("opening the database {} to read", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .context("setting the busy timeout")?;
    stable_plans(&conn)?;
    Ok(conn)
}

/// Plans each statement once, whatever its parameters.
///
/// Without this, SQLite may plan around a bound value (whether it makes a partial index
/// usable) and then re-prepares the statement each time that parameter is bound again, which
/// is every execution of a cached statement: the parser ran on every item query.
fn stable_plans(conn: &Connection) -> anyhow::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .context("enabling the query planner stability guarantee")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let version =
        usize::try_from(version).with_context(|| format!("bad schema version {version}"))?;
    if version > MIGRATIONS.len() {
        bail!(
            "the schema version {version} is newer than this build knows ({})",
            MIGRATIONS.len()
        );
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)
            .with_context(|| format!("migrating from schema version {from}"))?;
    }
    tx.pragma_update(None, "user_version", i64::try_from(MIGRATIONS.len())?)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opening_twice_keeps_the_schema_and_the_data() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("nested/local.db");
        let db = LocalDb::open(&path)?;
        db.run(|conn| {
            conn.execute(
                "INSERT INTO feed_positions (consumer, seq) VALUES ('a', 7)",
                [],
            )?;
            anyhow::Ok(())
        })
        .await?;
        drop(db);
        let db = LocalDb::open(&path)?;
        let seq: i64 = db
            .run(|conn| {
                Ok::<_, anyhow::Error>(conn.query_row(
                    "SELECT seq FROM feed_positions",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await?;
        assert_eq!(seq, 7);
        let mode: String = db
            .run(|conn| {
                Ok::<_, anyhow::Error>(conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?)
            })
            .await?;
        assert_eq!(mode, "wal");
        Ok(())
    }

    #[tokio::test]
    async fn every_connection_plans_a_statement_once_whatever_its_parameters() -> anyhow::Result<()>
    {
        let dir = tempfile::tempdir()?;
        let db = LocalDb::open(&dir.path().join("local.db"))?;
        fn qpsg(conn: &Connection) -> anyhow::Result<bool> {
            Ok(conn.db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)?)
        }
        let writer = db.run(|conn| qpsg(conn)).await?;
        let reader = db.read(qpsg).await?;
        assert!(writer && reader, "writer {writer}, reader {reader}");
        Ok(())
    }
}
