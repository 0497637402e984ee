//! Hostile events: every queue consumer (consumer, worker, avatar notifications) gets a batch of
//! its sample's good message among truncated, mistyped, oversized and unknown-version ones.
//! No handler panics or fails the whole batch; the failures it reports are exactly the bad
//! messages, each with an error in the log naming it; the good message is handled. The relay
//! gets a stream batch of good and unreadable outbox images. Each case runs on the local
//! adapters and on the AWS adapters against the emulator, each handler built as its Lambda
//! main builds it.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use functions::wiring::{AVATAR_UPLOADED, CONSUMER, Function, WORKER};
use infra::compose::Backend;
use serde_json::{Value, json};
use tracing_subscriber::fmt::MakeWriter;

/// What the handlers log, at ERROR, while the guard of [`capture`] lives.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Log {
    type Writer = Log;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Captures this thread's ERROR lines (the test runs on a current-thread runtime, so every
/// task of the handler logs here).
fn capture() -> (Log, tracing::subscriber::DefaultGuard) {
    let log = Log::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_max_level(tracing::Level::ERROR)
        .with_ansi(false)
        .finish();
    (log, tracing::subscriber::set_default(subscriber))
}

fn sample_body(function: &Function) -> anyhow::Result<String> {
    let path = format!(
        "{}/../events/{}.json",
        env!("CARGO_MANIFEST_DIR"),
        function.name
    );
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    Ok(sample["Records"][0]["body"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

fn message(id: &str, body: String) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(body);
    message
}

/// The hostile bodies of a good one: truncated, mistyped, oversized, and the function's own
/// kind of unknown version.
fn hostile(good: &str, unknown_version: String) -> Vec<(&'static str, String)> {
    vec![
        ("truncated", good[..good.len() / 2].to_owned()),
        (
            "mistyped",
            json!({"type": 42, "id": [], "job_id": "nope", "Records": "x"}).to_string(),
        ),
        (
            "oversized",
            json!({"pad": "x".repeat(300 * 1024)}).to_string(),
        ),
        ("unknown-version", unknown_version),
    ]
}

/// Feeds `function` the good message and the hostile ones; checks what it reports and logs.
async fn feed(
    backend: &dyn Backend,
    function: &Function,
    good: String,
    unknown_version: String,
) -> anyhow::Result<()> {
    let handler = function.queue_handler(backend)?;
    let bad = hostile(&good, unknown_version);
    let mut batch = SqsEvent::default();
    batch.records = std::iter::once(message("good", good))
        .chain(bad.iter().map(|(id, body)| message(id, body.clone())))
        .collect();

    let (log, guard) = capture();
    let response = handler.handle(batch).await;
    drop(guard);
    let response = response
        .map_err(|e| anyhow::anyhow!("{}: the whole batch failed: {e:#}", function.name))?;
    let mut reported: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    reported.sort();
    let mut expected: Vec<String> = bad.iter().map(|(id, _)| (*id).to_owned()).collect();
    expected.sort();
    assert_eq!(
        reported, expected,
        "{}: the failures it reported",
        function.name
    );
    let log = log.text();
    for (id, _) in &bad {
        assert!(
            log.lines()
                .any(|line| line.contains("ERROR") && line.contains(id)),
            "{}: no error names the {id} message:\n{log}",
            function.name
        );
    }
    assert!(
        !log.contains("good"),
        "{}: the good message failed:\n{log}",
        function.name
    );
    Ok(())
}

/// One `#[tokio::test]` per case and backend, `local::<case>` and `aws::<case>`: each runs
/// `super::<case>(backend)` on a fresh backend, local or on the emulator.
macro_rules! on_both_backends {
    ($($case:ident),+ $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $case() -> anyhow::Result<()> {
                    let dir = tempfile::tempdir()?;
                    let backend = tests::local::identity_backend(dir.path()).await?;
                    super::$case(&backend).await
                }
            )+
        }

        mod aws {
            $(
                #[tokio::test]
                async fn $case() -> anyhow::Result<()> {
                    let app = tests::aws_app::spawn_aws_app().await?;
                    super::$case(app.backend()).await?;
                    app.stop().await
                }
            )+
        }
    };
}

on_both_backends!(
    the_consumer_reports_exactly_the_events_it_cannot_read,
    the_worker_reports_exactly_the_job_messages_it_cannot_read,
    avatar_notifications_report_exactly_the_ones_they_cannot_read,
    the_relay_publishes_the_good_events_and_skips_what_it_cannot_read_or_send,
);

async fn the_consumer_reports_exactly_the_events_it_cannot_read(
    backend: &dyn Backend,
) -> anyhow::Result<()> {
    let good = sample_body(&CONSUMER)?;
    let mut newer: Value = serde_json::from_str(&good)?;
    newer["schema_version"] = json!(99);
    feed(backend, &CONSUMER, good, newer.to_string()).await
}

async fn the_worker_reports_exactly_the_job_messages_it_cannot_read(
    backend: &dyn Backend,
) -> anyhow::Result<()> {
    let good = sample_body(&WORKER)?;
    // A job event of a schema this build does not know.
    let newer = json!({
        "id": uuid::Uuid::now_v7(), "type": "job.enqueued", "aggregate_id": "x",
        "payload": {"job_id": uuid::Uuid::now_v7(), "job_type": "purge_expired"},
        "occurred_at": "2025-11-25T22:54:10.123Z", "schema_version": 99,
    });
    feed(backend, &WORKER, good, newer.to_string()).await
}

async fn avatar_notifications_report_exactly_the_ones_they_cannot_read(
    backend: &dyn Backend,
) -> anyhow::Result<()> {
    let good = sample_body(&AVATAR_UPLOADED)?;
    let mut newer: Value = serde_json::from_str(&good)?;
    newer["Records"][0]["eventVersion"] = json!("9.0");
    feed(backend, &AVATAR_UPLOADED, good, newer.to_string()).await
}

/// The relay publishes the good outbox events of a stream batch and skips, with an error
/// naming each, the outbox images it cannot read and the events the queue refuses (too
/// large); it reports no failure, since a stream stopped on them would never move again. An
/// event of a newer schema is published: its consumer decides.
async fn the_relay_publishes_the_good_events_and_skips_what_it_cannot_read_or_send(
    backend: &dyn Backend,
) -> anyhow::Result<()> {
    use functions::wiring::RELAY;

    let path = format!("{}/../events/relay.json", env!("CARGO_MANIFEST_DIR"));
    let mut batch: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let good = batch["Records"][1].clone();
    assert_eq!(
        good["dynamodb"]["Keys"]["pk"]["S"]
            .as_str()
            .map(|pk| pk.starts_with("OUTBOX#")),
        Some(true)
    );
    let outbox = |name: &str, edit: &dyn Fn(&mut Value)| {
        let id = uuid::Uuid::now_v7();
        let mut record = good.clone();
        let pk = json!({"S": format!("OUTBOX#{id}")});
        record["dynamodb"]["Keys"]["pk"] = pk.clone();
        record["dynamodb"]["NewImage"]["pk"] = pk;
        record["dynamodb"]["NewImage"]["id"] = json!({"S": id.to_string()});
        record["dynamodb"]["SequenceNumber"] = json!(format!("9{}", name.len()));
        edit(&mut record["dynamodb"]["NewImage"]);
        (id, record)
    };
    let (mistyped, mistyped_record) =
        outbox("mistyped", &|image| image["type"] = json!({"N": "42"}));
    let (truncated, truncated_record) = outbox("truncated", &|image| {
        let keys = (image["pk"].clone(), image["sk"].clone());
        *image = json!({"pk": keys.0, "sk": keys.1});
    });
    let (oversized, oversized_record) = outbox("oversized", &|image| {
        image["payload"] = json!({"M": {"pad": {"S": "x".repeat(300 * 1024)}}});
    });
    let (newer, newer_record) = outbox("newer", &|image| {
        image["schema_version"] = json!({"N": "99"})
    });
    let records = batch["Records"].as_array_mut().expect("records");
    records.extend([
        mistyped_record,
        truncated_record,
        oversized_record,
        newer_record,
    ]);

    let relay = RELAY.stream_handler(backend)?;
    let (log, guard) = capture();
    let response = relay.handle(serde_json::from_value(batch)?).await;
    drop(guard);
    let response = response?;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let events = backend.events_queue()?;
    let mut published = Vec::new();
    loop {
        let received = events
            .receive(
                10,
                std::time::Duration::from_secs(30),
                std::time::Duration::ZERO,
            )
            .await?;
        if received.is_empty() {
            break;
        }
        published.extend(received.into_iter().map(|m| m.body));
    }
    let good_id = good["dynamodb"]["NewImage"]["id"]["S"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for (what, id, expected) in [
        ("the good event", good_id.clone(), true),
        ("the newer event", newer.to_string(), true),
        ("the oversized event", oversized.to_string(), false),
        ("the mistyped image", mistyped.to_string(), false),
        ("the truncated image", truncated.to_string(), false),
    ] {
        let found = published.iter().any(|body| body.contains(&id));
        assert_eq!(found, expected, "{what} published: {found}");
    }
    let log = log.text();
    for id in [mistyped, truncated, oversized] {
        assert!(
            log.lines()
                .any(|line| line.contains("ERROR") && line.contains(&id.to_string())),
            "no error names {id}:\n{log}"
        );
    }
    Ok(())
}

/// A scheduled function reads nothing from its event: one with a detail of any shape still runs
/// its work, and none panics.
#[tokio::test]
async fn every_schedule_runs_whatever_detail_its_event_carries() -> anyhow::Result<()> {
    use functions::wiring::{FUNCTIONS, Trigger};

    let dir = tempfile::tempdir()?;
    let backend = tests::local::identity_backend(dir.path()).await?;
    for function in FUNCTIONS {
        let Trigger::Schedule { .. } = function.trigger() else {
            continue;
        };
        let handler = function.schedule_handler(&backend)?;
        for detail in [
            json!("truncated {"),
            json!({"x": "y".repeat(300 * 1024)}),
            json!(42),
        ] {
            let event = serde_json::from_value(json!({
                "version": "99", "id": "e-1", "detail-type": "Something Else", "source": "nowhere",
                "account": "000000000000", "time": "2025-11-25T22:54:10Z", "region": "local",
                "resources": [], "detail": detail,
            }))?;
            handler
                .handle(event)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e:#}", function.name))?;
        }
    }
    Ok(())
}
