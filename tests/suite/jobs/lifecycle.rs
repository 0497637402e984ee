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

#[tokio::test]
async fn a_batch_reports_exactly_the_messages_of_the_jobs_that_failed() -> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    cases::a_batch_reports_exactly_the_messages_of_the_jobs_that_failed(&system).await
}

#[tokio::test]
async fn a_job_message_delivered_twice_runs_the_job_once() -> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    cases::a_job_message_delivered_twice_runs_the_job_once(&system, &flaky).await
}

/// A message without an id, which no report could name, fails the whole batch.
#[tokio::test]
async fn a_message_without_an_id_fails_the_batch() -> anyhow::Result<()> {
    use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
    use functions::trigger::SqsHandler as _;

    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    let mut nameless = SqsMessage::default();
    nameless.body =
        Some(r#"{"job_id":"0193a4f2-6c1e-7b3a-9d2f-4e5a6b7c8d90","job_type":"flaky"}"#.to_owned());
    let mut batch = SqsEvent::default();
    batch.records = vec![nameless];
    assert!(
        system.worker.handle(batch).await.is_err(),
        "a failure without its message id was reported"
    );
    Ok(())
}
