//! Enqueueing a job: the job record and its `job.enqueued` event in one transaction.
//!
//! The relay publishes the event (from the change feed, or the outbox reconciliation if the
//! feed lost it) to the job queue, delayed by its `delay_seconds`. A job record therefore
//! never exists for long without its message, and no message exists without its record.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::clock::{Clock, Random};
use crate::jobs::job::{Job, JobError};
use crate::jobs::repo::{conflict, insert_write, update_write};
use crate::messaging::event::{Event, EventPayload, EventType, PayloadError};
use crate::messaging::outbox::outbox_write;
use crate::queue::MAX_DELAY;
use crate::store::{ItemStore, Write};

/// Receives of a job message before the queue moves it to its dead-letter queue: the one
/// value behind the job queue's `maxReceiveCount` in template.yaml (a test compares them), the
/// local queues' limit, and the most attempts a job can get. A job allowed more attempts than
/// its message has receives would be dead-lettered while still `retrying`.
pub const MAX_RECEIVES: u32 = 5;

/// Attempts a job gets unless its enqueuer says otherwise: every receive of its message.
pub const DEFAULT_MAX_ATTEMPTS: u32 = MAX_RECEIVES;

/// The input of one job type: its payload and its name come together, so a job is enqueued by
/// its type and the worker reads back exactly what was enqueued.
pub trait JobPayload: Serialize + DeserializeOwned + Send + 'static {
    /// The name jobs of this type are recorded and run under.
    const JOB_TYPE: &'static str;
    /// Whether the payload holds something secret: the worker then drops it from the job record
    /// once the job succeeded.
    const SENSITIVE: bool = false;
}

/// What to run, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub job_type: &'static str,
    pub payload: Value,
    pub max_attempts: u32,
    /// Capped at the queue's maximum delay (15 minutes).
    pub delay: Duration,
}

impl NewJob {
    /// A job of `P`'s type with this payload, due at once, with the default attempts.
    pub fn of<P: JobPayload>(payload: &P) -> Result<Self, JobError> {
        let payload = serde_json::to_value(payload)
            .with_context(|| format!("encoding a {} payload", P::JOB_TYPE))?;
        Ok(Self {
            job_type: P::JOB_TYPE,
            payload,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            delay: Duration::ZERO,
        })
    }

    /// At most [`MAX_RECEIVES`]: a message is not received more often than that.
    pub fn max_attempts(self, max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.min(MAX_RECEIVES),
            ..self
        }
    }

    pub fn delay(self, delay: Duration) -> Self {
        Self {
            delay: delay.min(MAX_DELAY),
            ..self
        }
    }
}

/// The payload of a `job.enqueued` event: what the worker needs to find the job. The job
/// queue's message body is the whole event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: Uuid,
    pub job_type: String,
    #[serde(default)]
    pub delay_seconds: u64,
}

impl JobMessage {
    /// Reads a job queue message body: a `job.enqueued` event, or its bare payload.
    pub fn from_body(body: &str) -> Result<Self, serde_json::Error> {
        match serde_json::from_str::<Event>(body) {
            Ok(event) => event.payload().map_err(|e| match e {
                PayloadError::Shape(_, e) => e,
                other => serde::de::Error::custom(other),
            }),
            Err(_) => serde_json::from_str(body),
        }
    }
}

impl EventPayload for JobMessage {
    const TYPE: EventType = EventType::JobEnqueued;
}

/// The `job.enqueued` event that delivers one attempt of `job` after `delay`.
pub fn enqueued_event(job: &Job, event_id: Uuid, delay: Duration, now: DateTime<Utc>) -> Event {
    let message = JobMessage {
        job_id: job.id,
        job_type: job.job_type.clone(),
        delay_seconds: delay.min(MAX_DELAY).as_secs(),
    };
    Event::of(event_id, job.id.to_string(), &message, now)
}

/// The job a [`NewJob`] becomes, and the writes that enqueue it; a use case that enqueues a job
/// as part of its own change adds these writes to its transaction.
pub fn enqueue_writes(
    new: NewJob,
    now: DateTime<Utc>,
    random: &dyn Random,
) -> Result<(Job, [Write; 2]), JobError> {
    enqueue_writes_as(random.id(), new, now, random)
}

/// [`enqueue_writes`] for a job whose id the caller chose: one derived from what asked for
/// the job makes a second request for it fail the transaction (`ConditionFailed` at index 0,
/// the job's insert) instead of queueing it twice.
pub fn enqueue_writes_as(
    id: Uuid,
    new: NewJob,
    now: DateTime<Utc>,
    random: &dyn Random,
) -> Result<(Job, [Write; 2]), JobError> {
    let delay = new.delay.min(MAX_DELAY);
    let run_at = now + TimeDelta::from_std(delay).unwrap_or_default();
    let job = Job::new(id, new.job_type, new.payload, new.max_attempts, now, run_at);
    let event = enqueued_event(&job, random.id(), delay, now);
    Ok((job.clone(), [insert_write(&job)?, outbox_write(&event)]))
}

/// Records a job and its message, atomically; returns the queued job.
pub async fn enqueue(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    random: &dyn Random,
    new: NewJob,
) -> Result<Job, JobError> {
    let (job, writes) = enqueue_writes(new, clock.now(), random)?;
    store.transact(writes.into()).await?;
    tracing::info!(job_id = %job.id, job_type = %job.job_type, "job enqueued");
    Ok(job)
}

/// Saves `changed` (a queued version of `read`) and sends it a new message, atomically: how a
/// manual retry or a redrive puts a job back on the queue.
pub async fn requeue(
    store: &dyn ItemStore,
    random: &dyn Random,
    read: &Job,
    changed: &Job,
) -> Result<Job, JobError> {
    let (write, stored) = update_write(read, changed)?;
    let event = enqueued_event(&stored, random.id(), Duration::ZERO, stored.updated_at);
    store
        .transact(vec![write, outbox_write(&event)])
        .await
        .map_err(|e| conflict(e, read.id))?;
    tracing::info!(job_id = %stored.id, job_type = %stored.job_type, status = %stored.status, "job requeued");
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandom;
    use crate::messaging::outbox::event_of;
    use serde_json::json;

    #[derive(Debug, Serialize, Deserialize)]
    struct Notify {
        to: String,
    }

    impl JobPayload for Notify {
        const JOB_TYPE: &'static str = "notify";
    }

    #[test]
    fn a_new_job_carries_its_payloads_type_and_json() {
        let new = NewJob::of(&Notify {
            to: "a@example.com".into(),
        })
        .unwrap();
        assert_eq!(new.job_type, "notify");
        assert_eq!(new.payload, json!({"to": "a@example.com"}));
        assert_eq!(new.max_attempts, DEFAULT_MAX_ATTEMPTS);
    }

    #[test]
    fn enqueueing_writes_the_job_and_its_event_together() {
        let now = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let new = NewJob::of(&Notify {
            to: "a@example.com".into(),
        })
        .unwrap()
        .delay(Duration::from_secs(3600));
        let (job, writes) = enqueue_writes(new, now, &OsRandom).unwrap();
        let [
            Write::Put { item: job_item, .. },
            Write::Put {
                item: event_item, ..
            },
        ] = writes
        else {
            panic!("not two puts: {writes:?}")
        };
        assert_eq!(job_item.key.pk, format!("JOB#{}", job.id));
        assert_eq!(
            job.run_at,
            now + TimeDelta::minutes(15),
            "the delay is capped at the queue's maximum"
        );
        let event = event_of(&event_item).ok();
        assert_eq!(
            event.as_ref().map(|e| e.event_type),
            Some(EventType::JobEnqueued)
        );
        let message = event
            .as_ref()
            .map(|e| JobMessage::from_body(&e.to_json()).ok());
        assert_eq!(
            message,
            Some(Some(JobMessage {
                job_id: job.id,
                job_type: "notify".into(),
                delay_seconds: 900
            }))
        );
        assert!(
            !serde_json::Value::Object(event_item.attrs)
                .to_string()
                .contains("a@example.com"),
            "the event carries no payload"
        );
    }

    #[test]
    fn a_bare_job_message_reads_too() {
        let body = json!({"job_id": Uuid::nil(), "job_type": "noop"}).to_string();
        assert_eq!(
            JobMessage::from_body(&body).ok().map(|m| m.delay_seconds),
            Some(0)
        );
        assert!(JobMessage::from_body("{}").is_err());
    }
}
