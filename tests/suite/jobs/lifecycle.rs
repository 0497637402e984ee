//! A job's life on the local adapters: the lifecycle cases, and cancellation.

use std::time::Duration;

use shared::jobs::{JobStatus, NewJob};

use super::{Flaky, FlakyPayload, Pipeline, cases};

#[tokio::test]
async fn a_job_failing_twice_then_succeeding_ends_succeeded_after_three_attempts()
-> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    cases::a_job_failing_twice_then_succeeding_ends_succeeded_after_three_attempts(&system, &flaky)
        .await
}

#[tokio::test]
async fn a_job_that_always_fails_ends_dead_with_its_message_in_the_dead_letter_queue()
-> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    cases::a_job_that_always_fails_ends_dead_with_its_message_in_the_dead_letter_queue(
        &system, &flaky,
    )
    .await
}

#[tokio::test]
async fn a_cancelled_job_is_skipped() -> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    let job = system
        .enqueue(NewJob::of(&FlakyPayload::new("cancelled", 0))?)
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
