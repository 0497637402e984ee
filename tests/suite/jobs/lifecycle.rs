//! A job's life: retries with backoff, death in the dead-letter queue, cancellation.

use std::time::Duration;

use serde_json::json;
use shared::jobs::JobStatus;
use shared::queue::Queue;

use super::{ATTEMPTS, Flaky, Pipeline};

#[tokio::test]
async fn a_job_failing_twice_then_succeeding_ends_succeeded_after_three_attempts()
-> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    let job = system
        .enqueue("flaky", json!({"key": "twice", "fail_first": 2}))
        .await?;

    let done = system.run_until(job.id, |j| j.status.is_final()).await?;
    assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 3));
    assert_eq!(done.result, Some(json!({"call": 3})));
    assert_eq!(done.last_error, None);
    assert_eq!(flaky.calls("twice"), 3);
    Ok(())
}

#[tokio::test]
async fn a_job_that_always_fails_ends_dead_with_its_message_in_the_dead_letter_queue()
-> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    let job = system
        .enqueue("flaky", json!({"key": "always", "fail_first": 1000}))
        .await?;

    let dead = system.run_until(job.id, |j| j.status.is_final()).await?;
    assert_eq!((dead.status, dead.attempts), (JobStatus::Dead, ATTEMPTS));
    assert!(
        dead.last_error
            .as_deref()
            .is_some_and(|e| e.contains("failed on purpose")),
        "{dead:?}"
    );

    // The next receive moves the message to the dead-letter queue instead of returning it.
    assert_eq!(system.pump.pump_once().await?.received, 0);
    let dlq = system.local()?.local_queue("jobs-dlq");
    let letters = dlq
        .receive(10, Duration::from_secs(5), Duration::ZERO)
        .await?;
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].body.contains(&job.id.to_string()),
        "{}",
        letters[0].body
    );
    assert_eq!(flaky.calls("always"), ATTEMPTS);
    Ok(())
}

#[tokio::test]
async fn a_cancelled_job_is_skipped() -> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    let job = system
        .enqueue("flaky", json!({"key": "cancelled", "fail_first": 0}))
        .await?;
    let cancelled = system
        .repo
        .save(&job, &job.cancel(chrono::Utc::now())?)
        .await?;
    assert_eq!(cancelled.status, JobStatus::Cancelled);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while system.step().await?.deleted == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job's message never came"
        );
    }
    assert_eq!(flaky.calls("cancelled"), 0, "a cancelled job does not run");
    assert_eq!(system.job(job.id).await?.status, JobStatus::Cancelled);
    Ok(())
}
