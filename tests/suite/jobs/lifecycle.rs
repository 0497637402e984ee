//! A job's life on the local adapters: the lifecycle cases, and cancellation.

use std::time::Duration;

use functions::trigger::SqsHandler as _;
use shared::jobs::{JobStatus, NewJob};
use shared::queue::Queue as _;

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

#[tokio::test]
async fn a_copy_of_a_jobs_message_delivered_while_its_attempt_runs_waits_for_it()
-> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    let job = system
        .enqueue(NewJob::of(&FlakyPayload::new("running", 0))?)
        .await?;
    // Another delivery has just started its attempt.
    let now = chrono::Utc::now();
    let running = system.repo.save(&job, &job.start(now)?).await?;
    system.publish().await?;
    let queue = system.backend.local_queue("jobs");
    let copy = queue
        .receive(10, Duration::from_secs(5), Duration::from_secs(2))
        .await?;
    let worker = system.worker.clone();
    let response = worker
        .handle(local_system::queue_pump::sqs_event("jobs", &copy))
        .await?;
    assert_eq!(response.batch_item_failures.len(), 1, "{response:?}");
    assert_eq!(
        flaky.calls("running"),
        0,
        "no second attempt beside the first"
    );
    let left = system.job(job.id).await?;
    assert_eq!((left.status, left.attempts), (JobStatus::Running, 1));
    // It waits for the running attempt's time: hidden now.
    let hidden = queue
        .receive(10, Duration::from_secs(5), Duration::ZERO)
        .await?;
    assert!(hidden.is_empty(), "{hidden:?}");

    // An attempt started longer ago than an invocation lasts has died: the copy runs the job.
    let long_ago = now - chrono::TimeDelta::from_std(functions::jobs::worker::TIMEOUT)?;
    let died = shared::jobs::Job {
        started_at: Some(long_ago),
        ..running.clone()
    };
    system.repo.save(&running, &died).await?;
    let response = worker
        .handle(local_system::queue_pump::sqs_event("jobs", &copy))
        .await?;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(flaky.calls("running"), 1);
    let done = system.job(job.id).await?;
    assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 2));
    Ok(())
}
