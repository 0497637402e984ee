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

/// A batch where one job succeeds and one fails reports exactly the failed one's message, and
/// a message without an id (which no report could name) fails the whole batch.
#[tokio::test]
async fn a_batch_reports_exactly_the_messages_of_the_jobs_that_failed() -> anyhow::Result<()> {
    use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
    use functions::trigger::SqsHandler as _;
    use shared::jobs::{Job, JobMessage};

    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    let fine = system
        .enqueue(NewJob::of(&FlakyPayload::new("fine", 0))?)
        .await?;
    let broken = system
        .enqueue(NewJob::of(&FlakyPayload::new("broken", 1000))?)
        .await?;
    let record = |id: Option<&str>, job: &Job| -> anyhow::Result<SqsMessage> {
        let mut message = SqsMessage::default();
        message.message_id = id.map(str::to_owned);
        message.body = Some(serde_json::to_string(&JobMessage {
            job_id: job.id,
            job_type: job.job_type.clone(),
            delay_seconds: 0,
        })?);
        Ok(message)
    };
    let mut batch = SqsEvent::default();
    batch.records = vec![
        record(Some("m-fine"), &fine)?,
        record(Some("m-broken"), &broken)?,
    ];
    let response = system.worker.handle(batch).await?;
    let reported: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(reported, ["m-broken"]);
    assert_eq!(system.job(fine.id).await?.status, JobStatus::Succeeded);

    let mut nameless = SqsEvent::default();
    nameless.records = vec![record(None, &broken)?];
    assert!(
        system.worker.handle(nameless).await.is_err(),
        "a failure without its message id was reported"
    );
    Ok(())
}
