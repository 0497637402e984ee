//! The pipeline's cases, written once over the ports and run on both backends.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::sqs::SqsEvent;
use chrono::{TimeDelta, Utc};
use functions::maintenance::reconcile_outbox::{ReconcileOutbox, ReconcileReport};
use functions::messaging::consumer::Consumer;
use functions::messaging::publisher::Publisher;
use functions::messaging::reaction::Reactions;
use functions::messaging::relay::Relay;
use functions::trigger::{SqsHandler, StreamHandler};
use local_system::queue_pump::{QueuePump, sqs_event};
use serde_json::json;
use shared::clock::{Clock, ManualClock};
use shared::jobs::JobMessage;
use shared::messaging::event::{Event, EventType};
use shared::queue::Queue;
use shared::store::Key;
use uuid::Uuid;

use super::harness::{
    Ctx, FailingSend, Tally, events_of, insert, is_relayed, outbox_item, receive_n, registered,
    stream_of, write_with_change,
};

/// How long to look for a message that must not come.
const QUIET: Duration = Duration::from_secs(1);

fn relay(ctx: &Ctx, events: Arc<dyn Queue>) -> Relay {
    Relay::new(
        Publisher::new(events, ctx.jobs.clone()),
        ctx.store.clone(),
        ctx.clock(),
    )
}

fn consumer(ctx: &Ctx, reactions: Reactions) -> Consumer {
    Consumer::new(ctx.store.clone(), ctx.clock(), reactions)
}

async fn nothing_more(queue: &dyn Queue) -> anyhow::Result<()> {
    let more = queue.receive(10, Duration::from_secs(60), QUIET).await?;
    assert!(more.is_empty(), "unexpected messages: {more:?}");
    Ok(())
}

fn failed_ids(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

pub async fn an_event_delivered_twice_has_one_effect(ctx: Ctx) -> anyhow::Result<()> {
    let event = registered();
    write_with_change(ctx.store.as_ref(), &event).await?;
    let response = relay(&ctx, ctx.events.clone())
        .handle(stream_of(ctx.store.as_ref(), &[&event]).await?)
        .await?;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert!(is_relayed(ctx.store.as_ref(), &event).await?);

    let messages = receive_n(ctx.events.as_ref(), 1).await?;
    assert_eq!(events_of(&messages)?, std::slice::from_ref(&event));
    let delivery: SqsEvent = sqs_event("events", &messages);

    let tally = Tally::new("tally", ctx.store.clone());
    let consumer = consumer(&ctx, tally.on_registered()?);
    for attempt in 1..=2 {
        let response = consumer.handle(delivery.clone()).await?;
        assert!(
            response.batch_item_failures.is_empty(),
            "delivery {attempt}: {response:?}"
        );
        assert_eq!(
            tally.count(&event.aggregate_id).await?,
            1,
            "after delivery {attempt}"
        );
    }
    Ok(())
}

pub async fn a_relay_failure_mid_batch_retries_only_the_rest(ctx: Ctx) -> anyhow::Result<()> {
    let events: Vec<Event> = (0..3).map(|_| registered()).collect();
    for event in &events {
        write_with_change(ctx.store.as_ref(), event).await?;
    }
    // The batch as the stream shows it: each outbox insert follows the insert of its change.
    let mut changes = Vec::new();
    for (i, event) in (0..).zip(&events) {
        let user = Key::new(format!("USER#{}", event.aggregate_id), "USER");
        let user = ctx
            .store
            .get(&user)
            .await?
            .context("the change was not written")?;
        changes.push(insert(2 * i + 1, user));
        changes.push(insert(
            2 * i + 2,
            outbox_item(ctx.store.as_ref(), event).await?,
        ));
    }
    let batch = local_system::feed_pump::stream_event(&changes)?;

    let flaky = relay(&ctx, FailingSend::new(ctx.events.clone(), 2));
    let response = flaky.handle(batch.clone()).await?;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(
        failed,
        [Some("4".to_owned())],
        "the second event's record, and only it"
    );
    let relayed = [
        is_relayed(ctx.store.as_ref(), &events[0]).await?,
        is_relayed(ctx.store.as_ref(), &events[1]).await?,
        is_relayed(ctx.store.as_ref(), &events[2]).await?,
    ];
    assert_eq!(relayed, [true, false, false]);

    // The retry starts at the failed record, as Lambda's does.
    let mut rest = batch;
    rest.records.drain(..3);
    let response = flaky.handle(rest).await?;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let published: Vec<Uuid> = events_of(&receive_n(ctx.events.as_ref(), 3).await?)?
        .iter()
        .map(|e| e.id)
        .collect();
    let mut expected: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let mut sorted = published.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "each event published once");
    nothing_more(ctx.events.as_ref()).await?;
    for event in &events {
        assert!(is_relayed(ctx.store.as_ref(), event).await?);
    }
    Ok(())
}

pub async fn reconciliation_publishes_what_the_relay_never_saw(ctx: Ctx) -> anyhow::Result<()> {
    let lost = registered();
    write_with_change(ctx.store.as_ref(), &lost).await?;
    let clock = Arc::new(ManualClock::new(Utc::now() + TimeDelta::minutes(6)));
    let recent = Event::new(
        Uuid::now_v7(),
        EventType::UserDeleted,
        "u",
        json!({}),
        clock.now() - TimeDelta::minutes(1),
    );
    write_with_change(ctx.store.as_ref(), &recent).await?;

    let reconcile = ReconcileOutbox::new(
        ctx.store.clone(),
        Publisher::new(ctx.events.clone(), ctx.jobs.clone()),
        clock.clone(),
        Duration::from_secs(5 * 60),
    );
    let report = reconcile.run().await?;
    assert_eq!(
        report,
        ReconcileReport {
            found: 1,
            published: 1,
            failed: 0
        }
    );
    assert_eq!(
        events_of(&receive_n(ctx.events.as_ref(), 1).await?)?,
        std::slice::from_ref(&lost)
    );
    assert!(is_relayed(ctx.store.as_ref(), &lost).await?);
    assert!(
        !is_relayed(ctx.store.as_ref(), &recent).await?,
        "too young to reconcile"
    );

    let again = reconcile.run().await?;
    assert_eq!(
        again,
        ReconcileReport {
            found: 0,
            published: 0,
            failed: 0
        }
    );
    nothing_more(ctx.events.as_ref()).await
}

pub async fn a_job_event_goes_to_the_job_queue_with_its_delay(ctx: Ctx) -> anyhow::Result<()> {
    let message = JobMessage {
        job_id: Uuid::now_v7(),
        job_type: "send_email".into(),
        delay_seconds: 2,
    };
    let job = Event::of(
        Uuid::now_v7(),
        message.job_id.to_string(),
        &message,
        Utc::now(),
    );
    let payload = serde_json::to_value(&message)?;
    write_with_change(ctx.store.as_ref(), &job).await?;
    let response = relay(&ctx, ctx.events.clone())
        .handle(stream_of(ctx.store.as_ref(), &[&job]).await?)
        .await?;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let early = ctx
        .jobs
        .receive(10, Duration::from_secs(60), Duration::ZERO)
        .await?;
    assert!(
        early.is_empty(),
        "a delayed job is hidden at first: {early:?}"
    );
    let messages = receive_n(ctx.jobs.as_ref(), 1).await?;
    let body: serde_json::Value = serde_json::from_str(&messages[0].body)?;
    assert_eq!(body, payload, "the job's message is the event's payload");
    nothing_more(ctx.events.as_ref()).await
}

pub async fn a_message_that_is_not_an_event_fails_alone(ctx: Ctx) -> anyhow::Result<()> {
    let good = registered();
    ctx.events
        .send(
            "{\"type\":\"user.registered\",\"password\":\"hunter2\"}",
            Duration::ZERO,
        )
        .await?;
    ctx.events.send(&good.to_json(), Duration::ZERO).await?;
    let messages = receive_n(ctx.events.as_ref(), 2).await?;
    let bad_id = messages
        .iter()
        .find(|m| m.body.contains("hunter2"))
        .map(|m| m.id.clone());

    let tally = Tally::new("tally", ctx.store.clone());
    let response = consumer(&ctx, tally.on_registered()?)
        .handle(sqs_event("events", &messages))
        .await?;
    assert_eq!(
        failed_ids(&response),
        bad_id.into_iter().collect::<Vec<_>>()
    );
    assert_eq!(tally.count(&good.aggregate_id).await?, 1);
    Ok(())
}

pub async fn a_failed_reaction_is_retried_alone(ctx: Ctx) -> anyhow::Result<()> {
    let event = registered();
    ctx.events.send(&event.to_json(), Duration::ZERO).await?;
    let delivery = sqs_event("events", &receive_n(ctx.events.as_ref(), 1).await?);

    let steady = Tally::new("steady", ctx.store.clone());
    let flaky = Tally::failing("flaky", ctx.store.clone(), 1);
    let reactions = steady
        .on_registered()?
        .on(EventType::UserRegistered, flaky.clone())?;
    let consumer = consumer(&ctx, reactions);

    let first = consumer.handle(delivery.clone()).await?;
    assert_eq!(
        failed_ids(&first).len(),
        1,
        "the flaky reaction fails the message"
    );
    let counts = (
        steady.count(&event.aggregate_id).await?,
        flaky.count(&event.aggregate_id).await?,
    );
    assert_eq!(counts, (1, 0));

    let second = consumer.handle(delivery).await?;
    assert!(second.batch_item_failures.is_empty(), "{second:?}");
    let counts = (
        steady.count(&event.aggregate_id).await?,
        flaky.count(&event.aggregate_id).await?,
    );
    assert_eq!(counts, (1, 1), "the steady reaction is not repeated");
    Ok(())
}

/// The consumer on its queue, as Lambda's SQS trigger runs it: the message of a failed
/// reaction is left to reappear after its visibility timeout, and only that reaction runs again.
pub async fn a_reaction_failing_once_is_redelivered_by_the_queue_and_applied_once(
    ctx: Ctx,
) -> anyhow::Result<()> {
    // SQS counts visibility in whole seconds: the shortest that is not zero.
    let visibility = Duration::from_secs(1);
    let event = registered();
    ctx.events.send(&event.to_json(), Duration::ZERO).await?;
    let steady = Tally::new("steady", ctx.store.clone());
    let flaky = Tally::failing("flaky", ctx.store.clone(), 1);
    let reactions = steady
        .on_registered()?
        .on(EventType::UserRegistered, flaky.clone())?;
    let pump = QueuePump::new(
        "events",
        ctx.events.clone(),
        Arc::new(consumer(&ctx, reactions)),
    )
    .with_timing(visibility, visibility + Duration::from_secs(2));

    let first = pump.pump_once().await?;
    assert_eq!((first.received, first.failed), (1, 1), "{first:?}");
    let counts = (
        steady.count(&event.aggregate_id).await?,
        flaky.count(&event.aggregate_id).await?,
    );
    assert_eq!(counts, (1, 0));

    let again = pump.pump_once().await?;
    assert_eq!((again.received, again.deleted), (1, 1), "{again:?}");
    let counts = (
        steady.count(&event.aggregate_id).await?,
        flaky.count(&event.aggregate_id).await?,
    );
    assert_eq!(counts, (1, 1), "each reaction applied once");
    nothing_more(ctx.events.as_ref()).await
}

/// Instantiates every case for one backend: `messaging_suite!(local, factory)` where
/// `factory()` is an async fn returning `anyhow::Result<(Ctx, guard)>`.
macro_rules! messaging_suite {
    ($name:ident, $factory:expr) => {
        mod $name {
            crate::conformance::instantiate!($factory; except {};
                an_event_delivered_twice_has_one_effect,
                a_relay_failure_mid_batch_retries_only_the_rest,
                reconciliation_publishes_what_the_relay_never_saw,
                a_job_event_goes_to_the_job_queue_with_its_delay,
                a_message_that_is_not_an_event_fails_alone,
                a_failed_reaction_is_retried_alone,
                a_reaction_failing_once_is_redelivered_by_the_queue_and_applied_once,
            );
        }
    };
}
messaging_suite!(local, crate::messaging::backends::local);
messaging_suite!(aws, crate::messaging::backends::aws);
