//! One event's end-to-end latency on the local system: a change and its outbox event written in
//! one transaction, the change feed pumped to the relay, the relay publishing to the events
//! queue, the queue pumped to the consumer, and the consumer's reaction committed, with the
//! real feed pump, relay, queue pump and consumer running. Events go one at a time, each after
//! the last one's reaction: first back to back (the feed pump is still busy with the previous
//! event's follow-up changes), then each after a pause longer than the feed pump's idle pause
//! (an idle pump wakes on the commit rather than at its next poll). Prints min/median/p95/max
//! of each.
//!
//! `cargo bench -p local --bench event_latency -- [N]` (default: 50 events).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use functions::messaging::consumer::Consumer;
use functions::messaging::reaction::{Reaction, Reactions};
use functions::trigger::SqsHandler;
use functions::wiring::RELAY;
use infra::compose::{Backend, LocalBackend};
use infra::config::LocalConfig;
use local_system::feed_pump::FeedPump;
use local_system::queue_pump::QueuePump;
use serde_json::{Map, json};
use shared::messaging::event::{Event, EventType};
use shared::messaging::outbox::outbox_write;
use shared::store::{Item, ItemStore, Key, Write};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Marks the user seen: one write, committed with the consumer's inbox claim.
#[derive(Debug)]
struct MarkSeen;

#[async_trait]
impl Reaction for MarkSeen {
    fn name(&self) -> &str {
        "mark_seen"
    }

    async fn react(&self, event: &Event) -> anyhow::Result<Vec<Write>> {
        let seen = Item::new(
            Key::new(format!("USER#{}", event.aggregate_id), "SEEN"),
            Map::new(),
        );
        Ok(vec![Write::put(seen)])
    }
}

/// The consumer, reporting the id of every event it consumed once its reaction is committed.
#[derive(Debug)]
struct Observed {
    consumer: Consumer,
    consumed: mpsc::UnboundedSender<Uuid>,
}

#[async_trait]
impl SqsHandler for Observed {
    async fn handle(&self, event: SqsEvent) -> anyhow::Result<SqsBatchResponse> {
        let ids: Vec<Uuid> = event
            .records
            .iter()
            .filter_map(|m| m.body.as_deref())
            .filter_map(|body| serde_json::from_str::<Event>(body).ok())
            .map(|e| e.id)
            .collect();
        let response = self.consumer.handle(event).await?;
        if !response.batch_item_failures.is_empty() {
            bail!("the consumer failed {:?}", response.batch_item_failures);
        }
        for id in ids {
            let _ = self.consumed.send(id);
        }
        Ok(response)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir()?;
    let backend =
        LocalBackend::open_default(LocalConfig::new(dir.path(), "http://localhost")).await?;
    let store = backend.store()?;
    let (consumed_tx, consumed) = mpsc::unbounded_channel();
    let consumer = Observed {
        consumer: Consumer::new(
            store.clone(),
            backend.clock(),
            Reactions::new().on(EventType::UserRegistered, Arc::new(MarkSeen))?,
        ),
        consumed: consumed_tx,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tasks = [
        tokio::spawn(
            FeedPump::new(
                RELAY.name,
                backend.local_store(),
                RELAY.stream_handler(&backend)?,
            )
            .run(stopped.clone()),
        ),
        tokio::spawn(
            QueuePump::new("events", backend.events_queue()?, Arc::new(consumer))
                .run(stopped.clone()),
        ),
    ];

    // The first event pays for warming the store and queue up; it is not counted.
    let mut pipeline = Pipeline { store, consumed };
    pipeline.one().await?;
    let back_to_back = pipeline.measure(events, Duration::ZERO).await?;
    let after_idle = pipeline.measure(events, IDLE_GAP).await?;
    stop.send(true)?;
    for task in tasks {
        task.await?;
    }

    report("back to back", &back_to_back);
    report(
        &format!("each after {} ms or more idle", IDLE_GAP.as_millis()),
        &after_idle,
    );
    Ok(())
}

/// The feed pump's pause when it finds nothing new (`IDLE` in `local_system::feed_pump`).
const FEED_IDLE: Duration = Duration::from_millis(200);

/// Longer than the feed pump's idle pause, so every event meets an idle feed.
const IDLE_GAP: Duration = Duration::from_millis(300);

struct Pipeline {
    store: Arc<dyn ItemStore>,
    consumed: mpsc::UnboundedReceiver<Uuid>,
}

impl Pipeline {
    /// Writes a change with its event; returns how long until the consumer had reacted.
    async fn one(&mut self) -> anyhow::Result<Duration> {
        let user = Uuid::now_v7().to_string();
        let event = Event::new(
            Uuid::now_v7(),
            EventType::UserRegistered,
            &user,
            json!({ "user_id": user }),
            Utc::now(),
        );
        let change = Item::new(
            Key::new(format!("USER#{user}"), "USER"),
            json!({"name": "Ada"}).as_object().cloned().unwrap(),
        );
        let started = Instant::now();
        self.store
            .transact(vec![Write::put(change), outbox_write(&event)])
            .await
            .context("writing a change with its event")?;
        loop {
            let id = tokio::time::timeout(Duration::from_secs(30), self.consumed.recv())
                .await
                .context("the event was not consumed within 30 s")?
                .context("the consumer stopped")?;
            if id == event.id {
                return Ok(started.elapsed());
            }
        }
    }

    /// The latencies of `events` events, one at a time, at least `gap` apart. A pause is
    /// lengthened by a varying part of the feed pump's idle pause, so the events meet the
    /// idle pump at every point of its pause rather than always at the same one.
    async fn measure(&mut self, events: usize, gap: Duration) -> anyhow::Result<Vec<Duration>> {
        let mut latencies = Vec::with_capacity(events);
        for i in 0..events {
            if !gap.is_zero() {
                let stagger = FEED_IDLE.mul_f64((i * 37 % 100) as f64 / 100.0);
                tokio::time::sleep(gap + stagger).await;
            }
            latencies.push(self.one().await?);
        }
        latencies.sort();
        Ok(latencies)
    }
}

fn report(what: &str, sorted: &[Duration]) {
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{} events {what}, write → feed → relay → events queue → consumer: min {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        sorted.len(),
        ms(at(0.0)),
        ms(at(0.5)),
        ms(at(0.95)),
        ms(at(1.0)),
    );
}
