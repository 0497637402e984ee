//! The lifecycle cases, written once and run on every pipeline (local adapters, the emulator).

use async_trait::async_trait;
use serde_json::json;
use shared::jobs::{Job, JobStatus, NewJob};
use uuid::Uuid;

use super::{ATTEMPTS, Flaky, FlakyPayload};

/// What the cases need of a job pipeline.
#[async_trait]
pub trait Lifecycle: Sync {
    /// Enqueues `job` with [`ATTEMPTS`] attempts.
    async fn enqueue(&self, job: NewJob) -> anyhow::Result<Job>;
    /// Relays and delivers until the job reaches a final status, within a deadline.
    async fn run_until_final(&self, id: Uuid) -> anyhow::Result<Job>;
    /// One more receive of the job queue for the worker; how many messages it returned.
    async fn receive_once(&self) -> anyhow::Result<usize>;
    /// The message bodies in the job queue's dead-letter queue.
    async fn dead_letters(&self) -> anyhow::Result<Vec<String>>;
}

pub async fn a_job_failing_twice_then_succeeding_ends_succeeded_after_three_attempts(
    system: &impl Lifecycle,
    flaky: &Flaky,
) -> anyhow::Result<()> {
    let job = system
        .enqueue(NewJob::of(&FlakyPayload::new("twice", 2))?)
        .await?;

    let done = system.run_until_final(job.id).await?;
    assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 3));
    assert_eq!(done.result, Some(json!({"call": 3})));
    assert_eq!(done.last_error, None);
    assert_eq!(flaky.calls("twice"), 3);
    Ok(())
}

pub async fn a_job_that_always_fails_ends_dead_with_its_message_in_the_dead_letter_queue(
    system: &impl Lifecycle,
    flaky: &Flaky,
) -> anyhow::Result<()> {
    let job = system
        .enqueue(NewJob::of(&FlakyPayload::new("always", 1000))?)
        .await?;

    let dead = system.run_until_final(job.id).await?;
    assert_eq!((dead.status, dead.attempts), (JobStatus::Dead, ATTEMPTS));
    assert!(
        dead.last_error
            .as_deref()
            .is_some_and(|e| e.contains("failed on purpose")),
        "{dead:?}"
    );

    // The worker handed the message back at once; the next receive dead-letters it instead of
    // returning it.
    assert_eq!(system.receive_once().await?, 0);
    let letters = system.dead_letters().await?;
    assert_eq!(letters.len(), 1);
    assert!(letters[0].contains(&job.id.to_string()), "{}", letters[0]);
    assert_eq!(flaky.calls("always"), ATTEMPTS);
    Ok(())
}
