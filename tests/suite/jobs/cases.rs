//! The lifecycle cases, written once and run on every pipeline (local adapters, the emulator).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use functions::jobs::worker::Worker;
use functions::trigger::SqsHandler as _;
use serde_json::json;
use shared::jobs::{Job, JobStatus, NewJob};
use shared::queue::Queue;
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
    /// Publishes what the outbox holds, without delivering anything.
    async fn publish(&self) -> anyhow::Result<()>;
    /// The job queue, to receive a batch by hand.
    fn jobs_queue(&self) -> Arc<dyn Queue>;
    /// The worker the pipeline delivers to, to hand it a batch.
    fn worker(&self) -> Arc<Worker>;
    async fn job(&self, id: Uuid) -> anyhow::Result<Job>;
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

/// A batch where one job succeeds and one fails reports exactly the failed one's message, by
/// the id the queue gave it.
pub async fn a_batch_reports_exactly_the_messages_of_the_jobs_that_failed(
    system: &impl Lifecycle,
) -> anyhow::Result<()> {
    let fine = system
        .enqueue(NewJob::of(&FlakyPayload::new("fine", 0))?)
        .await?;
    let broken = system
        .enqueue(NewJob::of(&FlakyPayload::new("broken", 1000))?)
        .await?;
    let queue = system.jobs_queue();
    let mut messages = Vec::new();
    for _ in 0..20 {
        // A receive may return fewer messages than wait; relaying again finds nothing new.
        system.publish().await?;
        messages.extend(
            queue
                .receive(10, Duration::from_secs(30), Duration::from_millis(500))
                .await?,
        );
        if messages.len() >= 2 {
            break;
        }
    }
    assert_eq!(messages.len(), 2, "both jobs' messages");
    let broken_message = messages
        .iter()
        .find(|m| m.body.contains(&broken.id.to_string()))
        .map(|m| m.id.clone())
        .expect("the broken job's message");

    let batch = local_system::queue_pump::sqs_event("jobs", &messages);
    let response = system.worker().handle(batch).await?;
    let reported: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(reported, [broken_message]);
    assert_eq!(system.job(fine.id).await?.status, JobStatus::Succeeded);
    assert_eq!(system.job(broken.id).await?.status, JobStatus::Failed);
    Ok(())
}

/// A job's message published twice (the relay handed one stream batch twice) runs the job
/// once: the copies in one batch race for the job and one loses; a copy after the job
/// finished is acknowledged and runs nothing.
// The case prints its figures: copies delivered, reported again, runs.
#[allow(clippy::print_stdout)]
pub async fn a_job_message_delivered_twice_runs_the_job_once(
    system: &impl Lifecycle,
    flaky: &Flaky,
) -> anyhow::Result<()> {
    let job = system
        .enqueue(NewJob::of(&FlakyPayload::new("once", 0))?)
        .await?;
    system.publish().await?;
    let queue = system.jobs_queue();
    let original = queue
        .receive(10, Duration::from_secs(30), Duration::from_secs(2))
        .await?;
    let [original] = original.as_slice() else {
        panic!("one message for the job: {original:?}");
    };
    queue.send(&original.body, Duration::ZERO).await?;
    let copy = queue
        .receive(10, Duration::from_secs(30), Duration::from_secs(2))
        .await?;
    assert_eq!(copy.len(), 1, "the second publication");
    let both = vec![original.clone(), copy[0].clone()];

    let worker = system.worker();
    let response = worker
        .handle(local_system::queue_pump::sqs_event("jobs", &both))
        .await?;
    let mut again: Vec<_> = both
        .iter()
        .filter(|m| {
            response
                .batch_item_failures
                .iter()
                .any(|f| f.item_identifier == m.id)
        })
        .cloned()
        .collect();
    assert!(again.len() <= 1, "one copy runs: {response:?}");
    assert_eq!(flaky.calls("once"), 1);
    println!(
        "jobs: 2 copies of one job's message in a batch, {} reported for redelivery, 1 run",
        again.len()
    );
    // The copy that lost the race comes back, and the other as well, had its deletion been
    // lost: both find the job finished.
    again.push(original.clone());
    let response = worker
        .handle(local_system::queue_pump::sqs_event("jobs", &again))
        .await?;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(flaky.calls("once"), 1);
    let done = system.job(job.id).await?;
    assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 1));
    Ok(())
}
