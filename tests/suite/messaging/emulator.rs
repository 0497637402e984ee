//! The relay's trigger on the emulator: the filter it applies, the records it reads as AWS
//! documents them, and the system's mail reaching SES through the stream alone.

use std::time::Duration;

use aws_lambda_events::dynamodb::{EventRecord, StreamViewType};
use chrono::{TimeDelta, Timelike, Utc};
use http::StatusCode;
use serde_json::{Value, json};
use shared::messaging::outbox::outbox_key;
use tests::aws_app::spawn_aws_app;
use tests::moto::moto;
use tests::provision;
use tests::stream::{BATCH, Filter, StreamPump, TableStream};
use tests::template::Template;

use super::harness::{outbox_item, registered, write_with_change};
use crate::conformance::eventually;

fn record(name: &str, pk: &str) -> EventRecord {
    let mut record = EventRecord::default();
    record.event_name = name.to_owned();
    let key = shared::store::Item::new(shared::store::Key::new(pk, "EVENT"), Default::default());
    record.change.keys = shared::store::wire::to_image(&key).unwrap();
    record
}

#[test]
fn the_relay_filter_from_the_template_admits_outbox_inserts_only() -> anyhow::Result<()> {
    let filter = Filter::relay()?;
    assert!(filter.admits(&record("INSERT", "OUTBOX#1"))?);
    assert!(!filter.admits(&record("MODIFY", "OUTBOX#1"))?);
    assert!(!filter.admits(&record("REMOVE", "OUTBOX#1"))?);
    assert!(!filter.admits(&record("INSERT", "USER#1"))?);
    assert!(!filter.admits(&record("INSERT", "XOUTBOX#1"))?);
    assert!(Filter::none().admits(&record("REMOVE", "USER#1"))?);
    Ok(())
}

/// The pump starts and batches as the relay's trigger in template.yaml, and reads its reports.
#[test]
fn the_pump_starts_and_batches_as_the_relay_trigger() -> anyhow::Result<()> {
    let template = Template::load()?;
    let trigger = &template.doc["Resources"]["RelayFunction"]["Properties"]["Events"]["TableStream"]
        ["Properties"];
    assert_eq!(
        trigger["StartingPosition"].as_str(),
        Some("LATEST"),
        "what StreamPump::latest does"
    );
    assert_eq!(trigger["BatchSize"].as_u64(), u64::try_from(BATCH).ok());
    assert_eq!(
        trigger["FunctionResponseTypes"][0].as_str(),
        Some("ReportBatchItemFailures")
    );
    Ok(())
}

/// What the relay reads of a record, as the Lambda event of a DynamoDB stream carries it
/// (AWS's "DynamoDB Streams and AWS Lambda triggers" and `GetRecords` reference): the event
/// name, the keys and the new image in DynamoDB JSON, a sequence number, the view type, a
/// creation time in whole seconds, and the stream's ARN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_record_read_from_the_emulator_has_the_shape_lambda_delivers() -> anyhow::Result<()>
{
    let moto = moto().await?;
    let table = provision::table(moto).await?;
    let stream = TableStream::of_table(moto, &table).await?;
    let pump = StreamPump::latest(stream.clone(), Filter::relay()?).await?;
    let store = infra::store::dynamo::DynamoStore::new(
        provision::dynamodb_client(moto),
        table.clone(),
        std::sync::Arc::new(shared::clock::SystemClock),
    );
    let event = registered();
    let before = Utc::now();
    write_with_change(&store, &event).await?;

    let batch = pump.peek().await?;
    let [insert] = batch.records.as_slice() else {
        panic!("the filter admits the outbox insert alone: {batch:?}");
    };
    let json: Value = serde_json::to_value(insert)?;
    assert_eq!(json["eventName"], "INSERT");
    assert_eq!(json["eventSource"], "aws:dynamodb");
    assert_eq!(json["eventVersion"], "1.1");
    assert_eq!(json["awsRegion"], tests::moto::REGION);
    assert_eq!(json["eventSourceARN"], stream.arn());
    assert!(stream.arn().contains(&format!(":table/{table}/stream/")));
    let key = outbox_key(event.id);
    assert_eq!(
        json["dynamodb"]["Keys"],
        json!({"pk": {"S": key.pk}, "sk": {"S": key.sk}})
    );
    let item = outbox_item(&store, &event).await?;
    let image = shared::store::wire::from_image(insert.change.new_image.clone())?;
    assert_eq!(image, item, "the new image is the stored item");
    assert!(
        insert.change.old_image.is_empty(),
        "an insert has no old image"
    );
    assert_eq!(
        insert.change.stream_view_type,
        Some(StreamViewType::NewAndOldImages)
    );
    assert!(insert.change.sequence_number.is_some());
    let at = insert.change.approximate_creation_date_time;
    assert_eq!(at.nanosecond(), 0, "whole seconds, as AWS rounds them down");
    assert!(
        at >= before - TimeDelta::seconds(1) && at <= Utc::now(),
        "{at} is not when it was written"
    );
    Ok(())
}

/// On the emulator, nothing but the stream carries events to the queue: a registration's mail
/// is sent, the reconciliation then finds nothing pending, and a registration the table
/// refused publishes nothing.
#[tokio::test]
// The test prints what the relay's mapping read and handed over.
#[allow(clippy::print_stdout)]
async fn on_the_emulator_a_registration_mails_through_the_stream_alone() -> anyhow::Result<()> {
    let app = spawn_aws_app().await?;
    let register = || async {
        app.client
            .post(app.url("/api/v1/auth/register"))
            .json(&json!({"email": "ada@example.com", "name": "Ada", "password": "a long passphrase"}))
            .send()
            .await
    };
    assert_eq!(register().await?.status(), StatusCode::CREATED);
    let sent = eventually("the verification mail", || async {
        let sent = app.sent_mail().await?;
        Ok((!sent.is_empty()).then_some(sent))
    })
    .await?;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "Verify your email address");

    // Refused while the relay's mapping is reading the stream; a few more turns would bring
    // its mail by now.
    assert_eq!(register().await?.status(), StatusCode::CONFLICT);
    for _ in 0..3 {
        app.deliver_mail().await?;
    }
    let sent = app.sent_mail().await?;
    assert_eq!(sent.len(), 1, "one registration, one mail: {sent:?}");

    let report = app.reconcile_outbox().await?;
    assert_eq!(
        report,
        json!({"found": 0, "published": 0, "failed": 0}),
        "the relay left nothing pending"
    );
    let totals = app.relay_totals();
    // The registration's event, and the job its mail became.
    assert_eq!(totals.delivered, 2, "{totals:?}");
    assert_eq!(totals.failures, 0, "{totals:?}");
    println!(
        "stream: {} reads, {} records read, {} outbox inserts relayed, 1 mail",
        totals.reads, totals.records, totals.delivered
    );
    tokio::time::timeout(Duration::from_secs(10), app.stop()).await?
}
