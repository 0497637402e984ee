//! The pipeline's sample events in events/, fed to their handlers: the stream sample to the
//! relay, the events queue sample to the consumer.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::dynamodb::Event as StreamEvent;
use aws_lambda_events::sqs::SqsEvent;
use functions::messaging::consumer::Consumer;
use functions::messaging::publisher::Publisher;
use functions::messaging::relay::Relay;
use functions::trigger::{SqsHandler, StreamHandler};
use shared::messaging::event::Event;
use shared::messaging::outbox::is_outbox_key;
use shared::store::wire;

use super::backends;
use super::harness::{Tally, events_of, is_relayed, receive_n};

fn sample<T: serde::de::DeserializeOwned>(name: &str) -> anyhow::Result<T> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("decoding {name}"))
}

#[tokio::test]
async fn events_dynamodb_stream_json_makes_the_relay_publish_its_one_outbox_event()
-> anyhow::Result<()> {
    let (ctx, _guard) = backends::local().await?;
    let stream: StreamEvent = sample("relay.json")?;
    // The outbox item the sample inserts, stored as its transaction stored it.
    let mut outbox = Vec::new();
    for record in &stream.records {
        let item = wire::from_image(record.change.new_image.clone()).ok();
        if let Some(item) = item.filter(|i| is_outbox_key(&i.key)) {
            outbox.push(shared::messaging::outbox::event_of(&item)?);
            ctx.store.put(item, None).await?;
        }
    }
    let [expected]: [Event; 1] = outbox
        .try_into()
        .map_err(|o| anyhow::anyhow!("outbox events: {o:?}"))?;

    let relay = Relay::new(
        Publisher::new(ctx.events.clone(), ctx.jobs.clone()),
        ctx.store.clone(),
        ctx.clock(),
    );
    let response = relay.handle(stream).await?;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        events_of(&receive_n(ctx.events.as_ref(), 1).await?)?,
        std::slice::from_ref(&expected)
    );
    assert!(is_relayed(ctx.store.as_ref(), &expected).await?);
    let jobs = ctx
        .jobs
        .receive(10, Duration::from_secs(60), Duration::ZERO)
        .await?;
    assert!(jobs.is_empty(), "{jobs:?}");
    Ok(())
}

#[tokio::test]
async fn events_sqs_events_json_is_consumed_once_however_often_it_comes() -> anyhow::Result<()> {
    let (ctx, _guard) = backends::local().await?;
    let delivery: SqsEvent = sample("consumer.json")?;
    let registered: Event = serde_json::from_str(delivery.records[0].body.as_deref().unwrap())?;

    let tally = Tally::new("tally", ctx.store.clone());
    let consumer = Consumer::new(ctx.store.clone(), ctx.clock(), tally.on_registered()?);
    for _ in 0..2 {
        let response = consumer.handle(delivery.clone()).await?;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    assert_eq!(tally.count(&registered.aggregate_id).await?, 1);
    Ok(())
}
