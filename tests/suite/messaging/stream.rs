//! The relay on the table's real change stream, written once and run on both backends: the
//! local change feed through the feed pump, and the emulator's DynamoDB stream read with
//! `GetRecords` and filtered as the relay's trigger in template.yaml. Nothing here builds a
//! stream record by hand: every batch is what the store's stream shows.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::dynamodb::{Event as StreamEvent, EventRecord};
use functions::messaging::consumer::Consumer;
use functions::messaging::publisher::Publisher;
use functions::messaging::relay::Relay;
use functions::trigger::{SqsHandler, StreamHandler};
use local_system::queue_pump::sqs_event;
use serde_json::json;
use shared::messaging::event::Event;
use shared::messaging::outbox::{outbox_key, outbox_write};
use shared::queue::Queue;
use shared::store::{Condition, Item, Key, Write};
use uuid::Uuid;

use super::harness::{
    Ctx, FailingSend, Recording, Tally, events_of, is_relayed, receive_n, registered,
    write_with_change,
};

/// How long to look for a message that must not come.
const QUIET: Duration = Duration::from_secs(1);

fn relay(ctx: &Ctx, events: Arc<dyn Queue>) -> Arc<Relay> {
    Arc::new(Relay::new(
        Publisher::new(events, ctx.jobs.clone()),
        ctx.store.clone(),
        ctx.clock(),
    ))
}

async fn nothing_more(queue: &dyn Queue) -> anyhow::Result<()> {
    let more = queue.receive(10, Duration::from_secs(60), QUIET).await?;
    assert!(more.is_empty(), "unexpected messages: {more:?}");
    Ok(())
}

/// The partition key a record's keys name.
fn pk(record: &EventRecord) -> String {
    serde_json::to_value(&record.change.keys).unwrap()["pk"]["S"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The record of a batch that inserts the event's outbox item.
fn outbox_record<'a>(batch: &'a StreamEvent, event: &Event) -> &'a EventRecord {
    let key = outbox_key(event.id);
    batch
        .records
        .iter()
        .find(|r| r.event_name == "INSERT" && pk(r) == key.pk)
        .unwrap_or_else(|| panic!("no insert of event {}'s outbox item in the batch", event.id))
}

fn sequence(record: &EventRecord) -> String {
    record
        .change
        .sequence_number
        .clone()
        .expect("a stream record has a sequence number")
}

pub async fn an_event_written_with_its_change_reaches_the_queue_through_the_stream(
    ctx: Ctx,
) -> anyhow::Result<()> {
    let event = registered();
    write_with_change(ctx.store.as_ref(), &event).await?;

    let pumped = ctx
        .stream
        .pump_once(relay(&ctx, ctx.events.clone()))
        .await?;
    assert!(pumped.delivered >= 1, "{pumped:?}");
    assert_eq!(pumped.failed_at, None);
    assert!(is_relayed(ctx.store.as_ref(), &event).await?);
    let published = receive_n(ctx.events.as_ref(), 1).await?;
    assert_eq!(events_of(&published)?, std::slice::from_ref(&event));

    // Marking the event relayed is a change on the stream too; it publishes nothing.
    let after = ctx
        .stream
        .pump_once(relay(&ctx, ctx.events.clone()))
        .await?;
    assert_eq!(after.failed_at, None);
    nothing_more(ctx.events.as_ref()).await
}

// The case prints its figures: publications, deliveries, duplicates absorbed.
#[allow(clippy::print_stdout)]
pub async fn a_stream_batch_handed_twice_to_the_relay_has_one_effect_downstream(
    ctx: Ctx,
) -> anyhow::Result<()> {
    let event = registered();
    write_with_change(ctx.store.as_ref(), &event).await?;
    let batch = ctx.stream.peek().await?;
    outbox_record(&batch, &event);

    // As when Lambda retries a batch whose first invocation did its work but timed out.
    let relay = relay(&ctx, ctx.events.clone());
    for attempt in 1..=2 {
        let response = relay.handle(batch.clone()).await?;
        assert!(
            response.batch_item_failures.is_empty(),
            "attempt {attempt}: {response:?}"
        );
    }
    // The relay cannot know it published already: both publications reach the queue.
    let messages = receive_n(ctx.events.as_ref(), 2).await?;
    assert_eq!(events_of(&messages)?, [event.clone(), event.clone()]);

    let tally = Tally::new("tally", ctx.store.clone());
    let consumer = Consumer::new(ctx.store.clone(), ctx.clock(), tally.on_registered()?);
    let mut pending = messages;
    let mut deliveries = 0;
    while !pending.is_empty() {
        deliveries += 1;
        assert!(deliveries <= 3, "the duplicates keep failing: {pending:?}");
        let response = consumer.handle(sqs_event("events", &pending)).await?;
        pending.retain(|m| {
            response
                .batch_item_failures
                .iter()
                .any(|f| f.item_identifier == m.id)
        });
        assert_eq!(
            tally.count(&event.aggregate_id).await?,
            1,
            "after delivery {deliveries}"
        );
    }
    println!(
        "stream: a batch of {} records relayed twice, 2 publications, consumer batches: {deliveries}, \
         1 duplicate absorbed",
        batch.records.len()
    );
    Ok(())
}

// The case prints its figures: records read, handed over, redelivered, published.
#[allow(clippy::print_stdout)]
pub async fn a_relay_failure_mid_batch_reports_its_record_and_the_redelivery_completes_it(
    ctx: Ctx,
) -> anyhow::Result<()> {
    let events: Vec<Event> = (0..3).map(|_| registered()).collect();
    for event in &events {
        write_with_change(ctx.store.as_ref(), event).await?;
    }
    let batch = ctx.stream.peek().await?;
    let failing = sequence(outbox_record(&batch, &events[1]));

    // The queue refuses the second event's message, once.
    let relay = Recording::new(relay(&ctx, FailingSend::new(ctx.events.clone(), 2)));
    let first = ctx.stream.pump_once(relay.clone()).await?;
    assert_eq!(
        first.failed_at.as_deref(),
        Some(failing.as_str()),
        "the second event's record, and only it"
    );
    let mut relayed = Vec::new();
    for event in &events {
        relayed.push(is_relayed(ctx.store.as_ref(), event).await?);
    }
    assert_eq!(relayed, [true, false, false]);

    let second = ctx.stream.pump_once(relay.clone()).await?;
    assert_eq!(second.failed_at, None, "{second:?}");
    let batches = relay.batches.lock().unwrap().clone();
    let [_, redelivered] = batches.as_slice() else {
        panic!("two batches expected: {batches:?}");
    };
    assert_eq!(
        redelivered.records.first().map(sequence),
        Some(failing.clone()),
        "the redelivery starts at the failed record"
    );

    let published = events_of(&receive_n(ctx.events.as_ref(), 3).await?)?;
    let mut ids: Vec<Uuid> = published.iter().map(|e| e.id).collect();
    let mut expected: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected, "each event published once");
    nothing_more(ctx.events.as_ref()).await?;
    for event in &events {
        assert!(is_relayed(ctx.store.as_ref(), event).await?);
    }
    println!(
        "stream: {} records read, {} handed over, failed at {failing}; then {} read, {} \
         handed over; 3 events published once each",
        first.read, first.delivered, second.read, second.delivered
    );
    Ok(())
}

/// A transaction cancelled by its condition leaves no record on the stream, and what is
/// written after it is read, by a mapping that was reading the stream before it.
pub async fn a_cancelled_transaction_shows_nothing_on_the_stream(ctx: Ctx) -> anyhow::Result<()> {
    let earlier = registered();
    write_with_change(ctx.store.as_ref(), &earlier).await?;
    let relay = Recording::new(relay(&ctx, ctx.events.clone()));
    assert_eq!(ctx.stream.pump_once(relay.clone()).await?.failed_at, None);
    assert_eq!(
        events_of(&receive_n(ctx.events.as_ref(), 1).await?)?,
        [earlier]
    );

    let cancelled = registered();
    let absent = Item::new(
        Key::new(format!("USER#{}", cancelled.aggregate_id), "USER"),
        json!({"name": "Ada"}).as_object().cloned().unwrap(),
    );
    let refused = ctx
        .store
        .transact(vec![
            outbox_write(&cancelled),
            Write::put_if(absent, Condition::Equals("name".into(), json!("Bob"))),
        ])
        .await;
    assert!(refused.is_err(), "the condition holds of no item");
    let written = registered();
    write_with_change(ctx.store.as_ref(), &written).await?;

    assert_eq!(ctx.stream.pump_once(relay.clone()).await?.failed_at, None);
    let batches = relay.batches.lock().unwrap().clone();
    let seen: Vec<String> = batches.iter().flat_map(|b| &b.records).map(pk).collect();
    assert!(
        !seen.contains(&outbox_key(cancelled.id).pk),
        "the cancelled event's insert is on the stream: {seen:?}"
    );
    assert!(
        seen.contains(&outbox_key(written.id).pk),
        "the write after the cancelled one is not: {seen:?}"
    );
    assert_eq!(
        events_of(&receive_n(ctx.events.as_ref(), 1).await?)?,
        [written]
    );
    nothing_more(ctx.events.as_ref()).await
}

/// Instantiates every case for one backend, as `messaging_suite!` does.
macro_rules! stream_suite {
    ($name:ident, $factory:expr) => {
        mod $name {
            crate::conformance::instantiate!($factory; except {};
                an_event_written_with_its_change_reaches_the_queue_through_the_stream,
                a_stream_batch_handed_twice_to_the_relay_has_one_effect_downstream,
                a_relay_failure_mid_batch_reports_its_record_and_the_redelivery_completes_it,
                a_cancelled_transaction_shows_nothing_on_the_stream,
            );
        }
    };
}
stream_suite!(local, crate::messaging::backends::local);
stream_suite!(aws, crate::messaging::backends::aws);
