//! The queue pump: batches in, failures left to reappear, successes deleted, dead letters after
//! the queue's maximum receives. The batch cases run on the local queue (its clock moved past
//! the visibility timeout) and on SQS on the emulator (the pump waits the timeout out).

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
const MAX_RECEIVES: u32 = 3;

/// SQS counts visibility in whole seconds: the shortest that is not zero.
const SQS_VISIBILITY: Duration = Duration::from_secs(1);

struct Fixture {
    work: Arc<dyn Queue>,
    dead: Arc<dyn Queue>,
    /// The local queues' clock; on SQS time passes by itself.
    clock: Option<Arc<ManualClock>>,
    visibility: Duration,
    /// Every record the handler saw: (body, ApproximateReceiveCount).
    seen: Arc<Mutex<Vec<(String, String)>>>,
    _dir: Option<tempfile::TempDir>,
}

async fn local() -> anyhow::Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let db = LocalDb::open(&dir.path().join("local.db"))?;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let dead_letter = DeadLetter {
        queue: "work-dlq".into(),
        max_receives: MAX_RECEIVES,
    };
    let work = Arc::new(LocalQueue::new(
        db.clone(),
        "work",
        clock.clone(),
        Some(dead_letter),
    ));
    let dead = Arc::new(LocalQueue::new(db, "work-dlq", clock.clone(), None));
    Ok(Fixture {
        work,
        dead,
        clock: Some(clock),
        visibility: VISIBILITY,
        seen: Arc::default(),
        _dir: Some(dir),
    })
}

async fn sqs() -> anyhow::Result<Fixture> {
    let (work, dead) =
        tests::provision::queue_pair(tests::moto::moto().await?, MAX_RECEIVES).await?;
    Ok(Fixture {
        work: Arc::new(work),
        dead: Arc::new(dead),
        clock: None,
        visibility: SQS_VISIBILITY,
        seen: Arc::default(),
        _dir: None,
    })
}

impl Fixture {
    /// A pump whose handler fails every message whose body starts with "fail", and fails the
    /// whole batch when a body is "crash". Its receives do not wait.
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
            .with_timing(self.visibility, NO_WAIT)
    }

    /// Moves the local queues' clock past the visibility timeout; on SQS time moves by itself.
    fn past_visibility(&self) {
        if let Some(clock) = &self.clock {
            clock.advance(TimeDelta::from_std(self.visibility).unwrap() + TimeDelta::seconds(1));
        }
    }

    /// [`Fixture::pump`] once the visibility timeout of what it received so far has run out:
    /// the local clock moves past it; on SQS the receive waits it out.
    fn pump_past_visibility(&self) -> QueuePump {
        self.past_visibility();
        let wait = match self.clock {
            Some(_) => NO_WAIT,
            None => self.visibility + Duration::from_secs(2),
        };
        self.pump().with_timing(self.visibility, wait)
    }

    fn seen(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// One `#[tokio::test]` per case and queue, `local::<case>` and `sqs::<case>`.
macro_rules! on_both_queues {
    ($($case:ident),+ $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $case() -> anyhow::Result<()> {
                    super::$case(super::local().await?).await
                }
            )+
        }

        mod sqs {
            $(
                #[tokio::test]
                async fn $case() -> anyhow::Result<()> {
                    super::$case(super::sqs().await?).await
                }
            )+
        }
    };
}

on_both_queues!(
    handled_messages_are_deleted_and_failed_ones_come_back,
    a_message_that_keeps_failing_is_dead_lettered,
    a_handler_error_fails_the_whole_batch,
);

async fn handled_messages_are_deleted_and_failed_ones_come_back(fx: Fixture) -> anyhow::Result<()> {
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
    assert_eq!(
        fx.pump_past_visibility().pump_once().await?,
        BatchOutcome {
            received: 1,
            deleted: 0,
            failed: 1
        }
    );
    assert_eq!(fx.seen(), vec![("fail-1".to_owned(), "2".to_owned())]);
    Ok(())
}

async fn a_message_that_keeps_failing_is_dead_lettered(fx: Fixture) -> anyhow::Result<()> {
    fx.work.send("fail-forever", Duration::ZERO).await?;
    assert_eq!(fx.pump().pump_once().await?.failed, 1);
    for _ in 1..MAX_RECEIVES {
        assert_eq!(fx.pump_past_visibility().pump_once().await?.failed, 1);
    }
    assert_eq!(
        fx.pump_past_visibility().pump_once().await?.received,
        0,
        "the receive after the last moves it to the dead-letter queue"
    );
    let counts: Vec<String> = fx.seen().into_iter().map(|(_, count)| count).collect();
    assert_eq!(counts, ["1", "2", "3"]);

    let dead = fx
        .dead
        .receive(10, VISIBILITY, Duration::from_secs(1))
        .await?;
    assert_eq!(
        dead.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["fail-forever"]
    );
    Ok(())
}

async fn a_handler_error_fails_the_whole_batch(fx: Fixture) -> anyhow::Result<()> {
    for body in ["ok-1", "crash"] {
        fx.work.send(body, Duration::ZERO).await?;
    }
    assert_eq!(
        fx.pump().pump_once().await?,
        BatchOutcome {
            received: 2,
            deleted: 0,
            failed: 2
        }
    );
    assert_eq!(fx.pump_past_visibility().pump_once().await?.received, 2);
    Ok(())
}

#[tokio::test]
async fn a_running_pump_delivers_what_is_sent_and_stops_on_request() -> anyhow::Result<()> {
    let fx = local().await?;
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
