//! `dlq show|redrive`: the messages the jobs and events queues gave up on, looked at and sent
//! back.
//!
//! Both work through the queue port, so they act alike on SQS and locally: a look receives the
//! messages and makes them visible again at once; a redrive sends each message's body to its
//! source queue and then deletes it from the dead-letter queue. A crash between the two leaves
//! the message in both queues: the redrive is at least once, like every delivery, and the
//! consumers deduplicate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use infra::compose::{Backend, EVENTS_QUEUE, JOBS_QUEUE};
use shared::jobs::{JobMessage, JobRepo};
use shared::messaging::event::Event;
use shared::queue::{MAX_RECEIVE, Queue, ReceivedMessage};

use super::table;

/// How many messages `dlq show` lists unless `--limit` says otherwise.
pub const DEFAULT_SHOW_LIMIT: usize = 100;

/// A redrive reports its progress every this many messages.
pub const PROGRESS_EVERY: usize = 100;

/// How long a look hides the messages it lists, should it die before making them visible again.
const LOOK_VISIBILITY: Duration = Duration::from_secs(30);

/// How long a message being moved is hidden: should the redrive die between the send and the
/// delete, the message is back in the dead-letter queue after this.
const MOVE_VISIBILITY: Duration = Duration::from_secs(60);

/// How long a receive waits for messages. A short poll of SQS samples some of its servers
/// and may come back empty while messages remain; a long poll asks them all.
const WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterCommand {
    Show { queue: SourceQueue, limit: usize },
    Redrive { queue: SourceQueue },
}

/// A queue with a dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceQueue {
    Jobs,
    Events,
}

impl SourceQueue {
    fn parse(word: Option<String>) -> anyhow::Result<Self> {
        match word.as_deref() {
            Some(JOBS_QUEUE) => Ok(Self::Jobs),
            Some(EVENTS_QUEUE) => Ok(Self::Events),
            Some(other) => bail!("the queue is jobs or events, not {other:?}"),
            None => bail!("name the queue: jobs or events"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Jobs => JOBS_QUEUE,
            Self::Events => EVENTS_QUEUE,
        }
    }

    /// Its dead-letter queue. On AWS a missing URL names its variable; say too where to read it.
    fn dead_letters(self, backend: &dyn Backend) -> anyhow::Result<Arc<dyn Queue>> {
        match self {
            Self::Jobs => backend.jobs_dlq().context(
                "finding the jobs dead-letter queue (its URL is the stack's output \
                 JobsDeadLetterQueueUrl)",
            ),
            Self::Events => backend.events_dlq().context(
                "finding the events dead-letter queue (its URL is the stack's output \
                 EventsDeadLetterQueueUrl)",
            ),
        }
    }

    /// The queue itself.
    fn queue(self, backend: &dyn Backend) -> anyhow::Result<Arc<dyn Queue>> {
        match self {
            Self::Jobs => backend
                .jobs_queue()
                .context("finding the jobs queue (its URL is the stack's output JobsQueueUrl)"),
            Self::Events => backend
                .events_queue()
                .context("finding the events queue (its URL is the stack's output EventsQueueUrl)"),
        }
    }
}

impl DeadLetterCommand {
    /// Reads what follows `dlq`.
    pub(super) fn parse(words: &mut impl Iterator<Item = String>) -> anyhow::Result<Self> {
        match words.next().as_deref() {
            Some("show") => {
                let queue = SourceQueue::parse(words.next())?;
                let mut limit = DEFAULT_SHOW_LIMIT;
                while let Some(option) = words.next() {
                    match option.as_str() {
                        "--limit" => {
                            let word = words.next().context("--limit needs a value")?;
                            limit = super::positive("--limit", &word)?;
                        }
                        other => bail!("unexpected argument {other:?}"),
                    }
                }
                Ok(Self::Show { queue, limit })
            }
            Some("redrive") => Ok(Self::Redrive {
                queue: SourceQueue::parse(words.next())?,
            }),
            _ => bail!("dlq takes one of: show QUEUE, redrive QUEUE"),
        }
    }

    pub(super) async fn run(
        self,
        backend: &dyn Backend,
        progress: &mut dyn FnMut(&str),
    ) -> anyhow::Result<String> {
        match self {
            Self::Show { queue, limit } => {
                let messages = look(queue.dead_letters(backend)?.as_ref(), limit).await?;
                describe(queue, &messages, limit, backend).await
            }
            Self::Redrive { queue } => {
                let (dlq, source) = (queue.dead_letters(backend)?, queue.queue(backend)?);
                let since = backend.clock().now();
                let moved = redrive(
                    dlq.as_ref(),
                    source.as_ref(),
                    since,
                    PROGRESS_EVERY,
                    progress,
                )
                .await?;
                let name = queue.name();
                let mut said = format!(
                    "moved {} message{} from the {name} dead-letter queue back to {name}",
                    moved.moved,
                    if moved.moved == 1 { "" } else { "s" }
                );
                if moved.came_back > 0 {
                    said.push_str(&format!(
                        "; {} came back dead during the redrive and stay there",
                        moved.came_back
                    ));
                }
                Ok(said)
            }
        }
    }
}

/// Up to `limit` messages of `dlq`, left where they are: received, then made visible again.
/// Receiving counts as a receive: each message's receive count grows by one.
pub async fn look(dlq: &dyn Queue, limit: usize) -> anyhow::Result<Vec<ReceivedMessage>> {
    let mut seen: Vec<ReceivedMessage> = Vec::new();
    let mut failure = None;
    while seen.len() < limit {
        let batch = (limit - seen.len()).min(MAX_RECEIVE);
        match dlq.receive(batch, LOOK_VISIBILITY, WAIT).await {
            Ok(messages) if messages.is_empty() => break,
            Ok(messages) => seen.extend(messages),
            Err(e) => {
                failure = Some(anyhow::Error::new(e).context("receiving dead-lettered messages"));
                break;
            }
        }
    }
    // What was seen is made visible again even when a later receive failed.
    for message in &seen {
        if let Err(e) = dlq.set_visibility(&message.receipt, Duration::ZERO).await {
            failure.get_or_insert(
                anyhow::Error::new(e).context(format!("releasing message {}", message.id)),
            );
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(seen),
    }
}

/// What a redrive did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Redriven {
    /// Messages sent back to the source and deleted from the dead-letter queue.
    pub moved: usize,
    /// Messages sent at or after the redrive began: ones it moved that died again. They stay,
    /// or a message that always fails would go round for ever.
    pub came_back: usize,
}

/// Moves every message of `dlq` that was sent before `since` back to `source`: sends its body,
/// then deletes it (at least once: a failure between the two leaves it in both). Says how far
/// it got every `every` messages.
pub async fn redrive(
    dlq: &dyn Queue,
    source: &dyn Queue,
    since: DateTime<Utc>,
    every: usize,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Redriven> {
    let mut moved = 0;
    // Messages that came back, by id, with the receipt of their latest receive. They stay
    // hidden until the end, so they neither crowd the messages still to move out of a receive
    // nor end the redrive early; each receive that meets one again hides it again.
    let mut came_back: HashMap<String, String> = HashMap::new();
    let result = async {
        loop {
            let messages = dlq
                .receive(MAX_RECEIVE, MOVE_VISIBILITY, WAIT)
                .await
                .context("receiving dead-lettered messages")?;
            if messages.is_empty() {
                return anyhow::Ok(());
            }
            for message in messages {
                if message.sent_at >= since {
                    came_back.insert(message.id, message.receipt);
                    continue;
                }
                source
                    .send(&message.body, Duration::ZERO)
                    .await
                    .with_context(|| format!("sending message {} back", message.id))?;
                dlq.delete(&message.receipt)
                    .await
                    .with_context(|| format!("deleting message {} once sent back", message.id))?;
                moved += 1;
                if moved % every.max(1) == 0 {
                    progress(&format!("{moved} messages moved…"));
                }
            }
        }
    }
    .await;
    for (id, receipt) in &came_back {
        // Best effort: one not released is visible again after MOVE_VISIBILITY anyway.
        if let Err(e) = dlq.set_visibility(receipt, Duration::ZERO).await {
            tracing::warn!(message = %id, error = %e, "could not release a message that came back");
        }
    }
    result.with_context(|| format!("after moving {moved} messages"))?;
    Ok(Redriven {
        moved,
        came_back: came_back.len(),
    })
}

/// The messages as a table: what each is about, never its whole body (an event's payload may
/// hold an address or more).
async fn describe(
    queue: SourceQueue,
    messages: &[ReceivedMessage],
    limit: usize,
    backend: &dyn Backend,
) -> anyhow::Result<String> {
    let name = queue.name();
    if messages.is_empty() {
        return Ok(format!("the {name} dead-letter queue is empty"));
    }
    let header = match queue {
        SourceQueue::Jobs => ["message", "sent", "receives", "job", "type", "job status"],
        SourceQueue::Events => ["message", "sent", "receives", "event", "type", "about"],
    };
    let jobs = match queue {
        SourceQueue::Jobs => Some(JobRepo::new(backend.store()?)),
        SourceQueue::Events => None,
    };
    let mut rows = Vec::with_capacity(messages.len());
    for message in messages {
        let about = match &jobs {
            Some(jobs) => match JobMessage::from_body(&message.body) {
                Ok(job) => {
                    // What to do depends on it: a dead job is not run again by its message.
                    let status = match jobs.get(job.job_id).await? {
                        Some(record) => record.status.to_string(),
                        None => "(no record)".to_owned(),
                    };
                    [job.job_id.to_string(), job.job_type, status]
                }
                Err(_) => unreadable(&message.body),
            },
            None => match serde_json::from_str::<Event>(&message.body) {
                Ok(event) => [
                    event.id.to_string(),
                    event.event_type.to_string(),
                    event.aggregate_id,
                ],
                Err(_) => unreadable(&message.body),
            },
        };
        let [a, b, c] = about;
        rows.push([
            message.id.clone(),
            message.sent_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            message.receive_count.to_string(),
            a,
            b,
            c,
        ]);
    }
    let count = if messages.len() >= limit {
        format!(
            "the first {} messages; more may follow (raise --limit)",
            messages.len()
        )
    } else {
        format!(
            "{} message{}",
            messages.len(),
            if messages.len() == 1 { "" } else { "s" }
        )
    };
    Ok(format!(
        "{}\n{count} in the {name} dead-letter queue (receives include this look)",
        table::render(header, &rows)
    ))
}

fn unreadable(body: &str) -> [String; 3] {
    [
        format!("(unreadable: {} bytes)", body.len()),
        String::new(),
        String::new(),
    ]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeDelta;
    use infra::compose::LocalBackend;
    use infra::config::LocalConfig;
    use serde_json::json;
    use shared::clock::{ManualClock, OsRandom};
    use shared::jobs::enqueue::{MAX_RECEIVES, enqueued_event};
    use shared::jobs::{NewJob, enqueue};
    use shared::messaging::event::EventType;
    use uuid::Uuid;

    use super::*;
    use crate::admin::tests::{admin, local};

    const NO_WAIT: Duration = Duration::ZERO;

    /// Receives `queue`'s next message (if any) and leaves it visible again at once.
    async fn receive_once(queue: &dyn Queue) -> Vec<ReceivedMessage> {
        queue.receive(1, Duration::ZERO, NO_WAIT).await.unwrap()
    }

    #[tokio::test]
    async fn a_dead_lettered_job_message_is_shown_and_redriven_to_the_jobs_queue()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = local(dir.path()).await?;
        let new = NewJob {
            job_type: "send_email",
            payload: json!({"token": "a-mailed-one-time-token"}),
            max_attempts: 3,
            delay: Duration::ZERO,
        };
        let store = backend.store()?;
        let job = enqueue(store.as_ref(), &*backend.clock(), &*backend.random(), new).await?;
        // The job's message, as the relay publishes it, received until the queue gives up on it.
        let body = enqueued_event(&job, Uuid::now_v7(), Duration::ZERO, job.created_at).to_json();
        let jobs = backend.jobs_queue()?;
        jobs.send(&body, Duration::ZERO).await?;
        for _ in 0..MAX_RECEIVES {
            assert_eq!(receive_once(jobs.as_ref()).await.len(), 1);
        }
        assert!(
            receive_once(jobs.as_ref()).await.is_empty(),
            "dead-lettered"
        );

        let (shown, _) = admin(dir.path(), &["dlq", "show", "jobs"]).await?;
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3, "header, one message, count: {shown}");
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            row[3..],
            [job.id.to_string().as_str(), "send_email", "queued"],
            "{shown}"
        );
        assert!(lines[2].starts_with("1 message in the jobs dead-letter queue"));
        assert!(!shown.contains("a-mailed-one-time-token"), "{shown}");
        let (again, _) = admin(dir.path(), &["dlq", "show", "jobs"]).await?;
        assert!(
            again.contains(&job.id.to_string()),
            "a look leaves it: {again}"
        );

        let (said, _) = admin(dir.path(), &["dlq", "redrive", "jobs"]).await?;
        assert_eq!(
            said,
            "moved 1 message from the jobs dead-letter queue back to jobs"
        );
        assert!(receive_once(backend.jobs_dlq()?.as_ref()).await.is_empty());
        let back = receive_once(jobs.as_ref()).await;
        assert_eq!(
            back.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            [body.as_str()]
        );
        let (empty, _) = admin(dir.path(), &["dlq", "show", "jobs"]).await?;
        assert_eq!(empty, "the jobs dead-letter queue is empty");
        Ok(())
    }

    #[tokio::test]
    async fn a_dead_lettered_event_is_shown_by_what_it_is_about_not_its_payload()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = local(dir.path()).await?;
        let event = Event::new(
            Uuid::now_v7(),
            EventType::UserRegistered,
            "user-1",
            json!({"email": "someone@example.com"}),
            backend.clock().now(),
        );
        let dlq = backend.events_dlq()?;
        dlq.send(&event.to_json(), Duration::ZERO).await?;
        dlq.send("not json", Duration::ZERO).await?;

        let (shown, _) = admin(dir.path(), &["dlq", "show", "events", "--limit", "1"]).await?;
        assert!(shown.ends_with("the first 1 messages; more may follow (raise --limit) in the events dead-letter queue (receives include this look)"), "{shown}");
        let (shown, _) = admin(dir.path(), &["dlq", "show", "events"]).await?;
        assert!(shown.contains(&event.id.to_string()), "{shown}");
        assert!(
            shown.contains("user.registered") && shown.contains("user-1"),
            "{shown}"
        );
        assert!(shown.contains("(unreadable: 8 bytes)"), "{shown}");
        assert!(!shown.contains("someone@example.com"), "{shown}");
        Ok(())
    }

    #[tokio::test]
    async fn a_redrive_reports_progress_and_leaves_the_messages_that_died_again()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let start = DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default();
        let clock = Arc::new(ManualClock::new(start));
        let config = LocalConfig::new(dir.path(), "http://127.0.0.1:1");
        let backend = LocalBackend::open(config, clock.clone(), Arc::new(OsRandom)).await?;
        let (dlq, source) = (backend.jobs_dlq()?, backend.jobs_queue()?);
        for n in 0..5 {
            dlq.send(&format!("message {n}"), Duration::ZERO).await?;
        }
        // The redrive began, and one of its messages has died again since.
        let since = start + TimeDelta::seconds(1);
        clock.advance(TimeDelta::seconds(2));
        dlq.send("died again", Duration::ZERO).await?;

        let mut progress = Vec::new();
        let done = redrive(
            dlq.as_ref(),
            source.as_ref(),
            since,
            2,
            &mut |line: &str| progress.push(line.to_owned()),
        )
        .await?;
        assert_eq!(
            done,
            Redriven {
                moved: 5,
                came_back: 1
            }
        );
        assert_eq!(progress, ["2 messages moved…", "4 messages moved…"]);
        let mut moved: Vec<String> = source
            .receive(MAX_RECEIVE, MOVE_VISIBILITY, NO_WAIT)
            .await?
            .into_iter()
            .map(|m| m.body)
            .collect();
        moved.sort();
        assert_eq!(
            moved,
            (0..5).map(|n| format!("message {n}")).collect::<Vec<_>>()
        );
        let left = receive_once(dlq.as_ref()).await;
        assert_eq!(
            left.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["died again"],
            "visible again in the dead-letter queue"
        );
        Ok(())
    }
}
