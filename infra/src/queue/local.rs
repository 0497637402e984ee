//! The local queue: SQS semantics over a table of the local database.
//!
//! Visibility and delays are instants of the queue's clock stored with each message; a receive
//! takes the visible messages and hides them in one transaction, so two receivers never get the
//! same message from the same visibility window. Waiting receivers wake on a send in this
//! process and otherwise poll briefly, which also catches delays and timeouts running out.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{Connection, TransactionBehavior, params};
use shared::clock::Clock;
use shared::queue::{
    MAX_RECEIVE, Queue, QueueError, ReceivedMessage, check_body, check_delay, check_visibility,
};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::local_db::LocalDb;

/// The longest a receive may wait (SQS's long-polling maximum).
const MAX_WAIT: Duration = Duration::from_secs(20);

/// How often a waiting receive looks again when nothing woke it.
const POLL: Duration = Duration::from_millis(100);

/// Where messages go after too many receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The name of the dead-letter queue, in the same database.
    pub queue: String,
    /// A message received this many times is moved on its next receive.
    pub max_receives: u32,
}

#[derive(Debug, Clone)]
pub struct LocalQueue {
    db: LocalDb,
    name: String,
    clock: Arc<dyn Clock>,
    dead_letter: Option<DeadLetter>,
    arrivals: Arc<Notify>,
}

impl LocalQueue {
    pub fn new(
        db: LocalDb,
        name: &str,
        clock: Arc<dyn Clock>,
        dead_letter: Option<DeadLetter>,
    ) -> Self {
        let arrivals = db.arrivals(name);
        Self {
            db,
            name: name.to_owned(),
            clock,
            dead_letter,
            arrivals,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// One attempt: takes up to `max` visible messages, moving dead ones aside.
    async fn take(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let (name, clock, dead_letter) = (
            self.name.clone(),
            Arc::clone(&self.clock),
            self.dead_letter.clone(),
        );
        let (taken, moved) = self
            .db
            .run(move |conn| {
                take(
                    conn,
                    &name,
                    clock.now(),
                    max,
                    visibility,
                    dead_letter.as_ref(),
                )
            })
            .await?;
        if let (true, Some(dead_letter)) = (moved, &self.dead_letter) {
            self.db.arrivals(&dead_letter.queue).notify_waiters();
        }
        Ok(taken)
    }
}

fn millis(duration: Duration) -> Result<TimeDelta, QueueError> {
    TimeDelta::from_std(duration)
        .map_err(|e| QueueError::Unexpected(anyhow::Error::new(e).context("duration out of range")))
}

fn take(
    conn: &mut Connection,
    queue: &str,
    now: DateTime<Utc>,
    max: usize,
    visibility: Duration,
    dead_letter: Option<&DeadLetter>,
) -> Result<(Vec<ReceivedMessage>, bool), QueueError> {
    let hidden_until = (now + millis(visibility)?).timestamp_millis();
    let now_ms = now.timestamp_millis();
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context("starting a receive")?;
    let mut taken: Vec<ReceivedMessage> = Vec::new();
    let mut moved = false;
    loop {
        // Asking for the messages already taken too keeps a zero visibility from handing a
        // message out twice in one receive.
        let candidates = tx
            .prepare_cached(
                "SELECT id, body, sent_at_ms, receive_count FROM messages
                 WHERE queue = ?1 AND visible_at_ms <= ?2 ORDER BY visible_at_ms, rowid LIMIT ?3",
            )
            .and_then(|mut statement| {
                statement
                    .query_map(
                        params![
                            queue,
                            now_ms,
                            i64::try_from(max + taken.len()).unwrap_or(i64::MAX)
                        ],
                        |row| {
                            Ok((
                                row.get::<_, String>(0)?,
                                row.get::<_, String>(1)?,
                                row.get::<_, i64>(2)?,
                                row.get::<_, u32>(3)?,
                            ))
                        },
                    )?
                    .collect::<Result<Vec<_>, _>>()
            })
            .context("finding visible messages")?;
        let fresh: Vec<_> = candidates
            .into_iter()
            .filter(|(id, ..)| taken.iter().all(|t| &t.id != id))
            .collect();
        let mut moved_now = false;
        for (id, body, sent_at_ms, receive_count) in fresh {
            if taken.len() == max {
                break;
            }
            if let Some(dead_letter) = dead_letter.filter(|d| receive_count >= d.max_receives) {
                tx.execute(
                    "UPDATE messages SET queue = ?2, visible_at_ms = ?3, receive_count = 0, receipt = NULL WHERE id = ?1",
                    params![id, dead_letter.queue, now_ms],
                )
                .context("moving a message to its dead-letter queue")?;
                moved_now = true;
                continue;
            }
            let receipt = Uuid::new_v4().simple().to_string();
            tx.execute(
                "UPDATE messages SET receipt = ?2, receive_count = receive_count + 1, visible_at_ms = ?3 WHERE id = ?1",
                params![id, receipt, hidden_until],
            )
            .context("hiding a received message")?;
            let sent_at = DateTime::from_timestamp_millis(sent_at_ms)
                .context("a message's send time is out of range")?;
            taken.push(ReceivedMessage {
                id,
                body,
                receipt,
                receive_count: receive_count + 1,
                sent_at,
            });
        }
        moved |= moved_now;
        // Only a move frees room for messages the last look did not reach.
        if !moved_now || taken.len() == max {
            break;
        }
    }
    tx.commit().context("committing a receive")?;
    Ok((taken, moved))
}

#[async_trait]
impl Queue for LocalQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError> {
        check_delay(delay)?;
        check_body(body)?;
        let delay = millis(delay)?;
        let id = Uuid::new_v4().to_string();
        let (queue, body, message_id, clock) = (
            self.name.clone(),
            body.to_owned(),
            id.clone(),
            Arc::clone(&self.clock),
        );
        self.db
            .run(move |conn| {
                let now = clock.now();
                conn.execute(
                    "INSERT INTO messages (id, queue, body, sent_at_ms, visible_at_ms, receive_count)
                     VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                    params![message_id, queue, body, now.timestamp_millis(), (now + delay).timestamp_millis()],
                )
                .context("storing a message")?;
                anyhow::Ok(())
            })
            .await?;
        self.arrivals.notify_waiters();
        Ok(id)
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        if max == 0 || max > MAX_RECEIVE {
            return Err(QueueError::OutOfRange(format!(
                "a receive takes 1..={MAX_RECEIVE} messages, not {max}"
            )));
        }
        check_visibility(visibility)?;
        if wait > MAX_WAIT {
            return Err(QueueError::OutOfRange(format!(
                "a receive waits at most {}s, not {}s",
                MAX_WAIT.as_secs(),
                wait.as_secs()
            )));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Listen before looking, so a send between the look and the wait still wakes us.
            let arrival = self.arrivals.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            let taken = self.take(max, visibility).await?;
            let now = tokio::time::Instant::now();
            if !taken.is_empty() || now >= deadline {
                return Ok(taken);
            }
            tokio::select! {
                () = arrival => {}
                () = tokio::time::sleep((deadline - now).min(POLL)) => {}
            }
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let (queue, receipt) = (self.name.clone(), receipt.to_owned());
        self.db
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM messages WHERE queue = ?1 AND receipt = ?2",
                    params![queue, receipt],
                )
                .context("deleting a message")?;
                anyhow::Ok(())
            })
            .await?;
        Ok(())
    }

    async fn set_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        check_visibility(timeout)?;
        let timeout = millis(timeout)?;
        let (queue, receipt, clock) = (
            self.name.clone(),
            receipt.to_owned(),
            Arc::clone(&self.clock),
        );
        let changed = self
            .db
            .run(move |conn| {
                let now = clock.now();
                let changed = conn
                    .execute(
                        "UPDATE messages SET visible_at_ms = ?3
                         WHERE queue = ?1 AND receipt = ?2 AND visible_at_ms > ?4",
                        params![
                            queue,
                            receipt,
                            (now + timeout).timestamp_millis(),
                            now.timestamp_millis()
                        ],
                    )
                    .context("changing a message's visibility")?;
                anyhow::Ok(changed)
            })
            .await?;
        if changed == 0 {
            return Err(QueueError::InvalidReceipt);
        }
        self.arrivals.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
