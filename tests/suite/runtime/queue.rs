//! The queue pump: batches in, failures left to reappear, successes deleted, dead letters after
//! the queue's maximum receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{TimeDelta, Utc};
use functions::trigger::handler_fn;
use infra::local_db::LocalDb;
use infra::queue::local::{DeadLetter, LocalQueue};
use local_system::queue_pump::{BatchOutcome, QueuePump};
use shared::clock::ManualClock;
use shared::queue::Queue;

const VISIBILITY: Duration = Duration::from_secs(30);
const NO_WAIT: Duration = Duration::ZERO;

struct Fixture {
    clock: Arc<ManualClock>,
    work: Arc<LocalQueue>,
    dead: Arc<LocalQueue>,
    /// Every record the handler saw: (body, ApproximateReceiveCount).
    seen: Arc<Mutex<Vec<(String, String)>>>,
    _dir: tempfile::TempDir,
}

fn fixture() -> anyhow::Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let db = LocalDb::open(&dir.path().join("local.db"))?;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let dead_letter = DeadLetter {
        queue: "work-dlq".into(),
        max_receives: 3,
    };
    let work = Arc::new(LocalQueue::new(
        db.clone(),
        "work",
        clock.clone(),
        Some(dead_letter),
    ));
    let dead = Arc::new(LocalQueue::new(db, "work-dlq", clock.clone(), None));
    Ok(Fixture {
        clock,
        work,
        dead,
        seen: Arc::default(),
        _dir: dir,
    })
}

impl Fixture {
    /// A pump whose handler fails every message whose body starts with "fail", and fails the
    /// whole batch when a body is "crash".
    fn pump(&self) -> QueuePump {
        let seen = self.seen.clone();
        let handler = handler_fn(move |event: SqsEvent| {
            let seen = seen.clone();
            async move {
                let mut response = SqsBatchResponse::default();
                for record in event.records {
                    let body = record.body.expect("a record has a body");
                    let count = record
                        .attributes
                        .get("ApproximateReceiveCount")
                        .cloned()
                        .expect("a record has a receive count");
                    assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
                    seen.lock().unwrap().push((body.clone(), count));
                    if body == "crash" {
                        anyhow::bail!("the handler crashed");
                    }
                    if body.starts_with("fail") {
                        response.add_failure(record.message_id.expect("a record has an id"));
                    }
                }
                Ok(response)
            }
        });
        QueuePump::new("work", self.work.clone(), Arc::new(handler))
            .with_timing(VISIBILITY, NO_WAIT)
    }

    fn seen(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    fn past_visibility(&self) {
        self.clock.advance(TimeDelta::seconds(31));
    }
}

#[tokio::test]
async fn handled_messages_are_deleted_and_failed_ones_come_back() -> anyhow::Result<()> {
    let fx = fixture()?;
    for body in ["ok-1", "fail-1", "ok-2"] {
        fx.work.send(body, Duration::ZERO).await?;
    }
    let pump = fx.pump();

    assert_eq!(
        pump.pump_once().await?,
        BatchOutcome {
            received: 3,
            deleted: 2,
            failed: 1
        }
    );
    assert_eq!(
        pump.pump_once().await?.received,
        0,
        "a failed message stays hidden for its visibility timeout"
    );

    fx.seen();
    fx.past_visibility();
    assert_eq!(
        pump.pump_once().await?,
        BatchOutcome {
            received: 1,
            deleted: 0,
            failed: 1
        }
    );
    assert_eq!(fx.seen(), vec![("fail-1".to_owned(), "2".to_owned())]);
    Ok(())
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_dead_lettered() -> anyhow::Result<()> {
    let fx = fixture()?;
    fx.work.send("fail-forever", Duration::ZERO).await?;
    let pump = fx.pump();
    for _ in 0..3 {
        assert_eq!(pump.pump_once().await?.failed, 1);
        fx.past_visibility();
    }
    assert_eq!(
        pump.pump_once().await?.received,
        0,
        "the fourth receive moves it to the dead-letter queue"
    );
    let counts: Vec<String> = fx.seen().into_iter().map(|(_, count)| count).collect();
    assert_eq!(counts, ["1", "2", "3"]);

    let dead = fx.dead.receive(10, VISIBILITY, NO_WAIT).await?;
    assert_eq!(
        dead.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["fail-forever"]
    );
    Ok(())
}

#[tokio::test]
async fn a_handler_error_fails_the_whole_batch() -> anyhow::Result<()> {
    let fx = fixture()?;
    for body in ["ok-1", "crash"] {
        fx.work.send(body, Duration::ZERO).await?;
    }
    let pump = fx.pump();
    assert_eq!(
        pump.pump_once().await?,
        BatchOutcome {
            received: 2,
            deleted: 0,
            failed: 2
        }
    );
    fx.past_visibility();
    assert_eq!(pump.pump_once().await?.received, 2);
    Ok(())
}

#[tokio::test]
async fn a_running_pump_delivers_what_is_sent_and_stops_on_request() -> anyhow::Result<()> {
    let fx = fixture()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(
        fx.pump()
            .with_timing(VISIBILITY, Duration::from_millis(50))
            .run(stopped),
    );
    fx.work.send("ok-1", Duration::ZERO).await?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fx.seen.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pump never delivered the message"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(10), task).await??;
    fx.past_visibility();
    assert!(
        fx.work.receive(10, VISIBILITY, NO_WAIT).await?.is_empty(),
        "the delivered message was deleted"
    );
    Ok(())
}
