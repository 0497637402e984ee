//! The local event runtime end to end: a change and its event, written in one transaction,
//! reach a reaction through the change feed, the relay, the events queue and the consumer;
//! and a crash of the runtime, however it falls between write and relay, loses nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use functions::messaging::consumer::Consumer;
use functions::wiring::{CONSUMER, FUNCTIONS, Function};
use infra::compose::{Backend as _, EVENTS_QUEUE, LocalBackend};
use infra::config::LocalConfig;
use local_system::queue_pump::QueuePump;
use local_system::runtime::Runtime;
use shared::messaging::event::Event;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::harness::{Tally, is_relayed, registered, write_with_change};
use crate::conformance::eventually;

/// How long a message a killed consumer held stays hidden: short, so the test need not wait
/// out the default.
const VISIBILITY: Duration = Duration::from_secs(2);

/// The local backend over a data directory and its event runtime, running.
struct Running {
    backend: LocalBackend,
    tally: Arc<Tally>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    async fn start(dir: &Path) -> anyhow::Result<Self> {
        let backend =
            LocalBackend::open_default(LocalConfig::new(dir, "http://127.0.0.1:0")).await?;
        let tally = Tally::new("tally", backend.store()?);
        let (stop, stopped) = watch::channel(false);
        // The system's runtime, its consumer running the tally instead of the subscriptions.
        let others: Vec<Function> = FUNCTIONS
            .iter()
            .filter(|f| f.name != CONSUMER.name)
            .copied()
            .collect();
        let consumer = Consumer::new(backend.store()?, backend.clock(), tally.on_registered()?);
        let events = backend.local_queue(EVENTS_QUEUE);
        let tasks = Runtime::new(&backend, &others)?
            .with_queue_pump(QueuePump::new(EVENTS_QUEUE, events, Arc::new(consumer)))
            .with_queue_visibility(VISIBILITY)
            .spawn(&stopped);
        Ok(Self {
            backend,
            tally,
            stop,
            tasks,
        })
    }

    /// Stops every part after what it has in flight.
    async fn stop(self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        for task in self.tasks {
            task.await?;
        }
        Ok(())
    }

    /// Ends every part wherever it is, as a killed process would.
    fn kill(self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    async fn write(&self, event: &Event) -> anyhow::Result<()> {
        write_with_change(self.backend.store()?.as_ref(), event).await
    }

    /// Waits until the tally counted every event (each of its own aggregate).
    async fn delivered(&self, events: &[Event]) -> anyhow::Result<()> {
        eventually("every event counted", || async {
            for event in events {
                if self.tally.count(&event.aggregate_id).await? == 0 {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        })
        .await
    }

    /// Asserts every event was counted exactly once and marked relayed.
    async fn counted_once(&self, events: &[Event]) -> anyhow::Result<()> {
        let store = self.backend.store()?;
        for event in events {
            assert_eq!(
                self.tally.count(&event.aggregate_id).await?,
                1,
                "event {}",
                event.id
            );
            assert!(
                is_relayed(store.as_ref(), event).await?,
                "event {}",
                event.id
            );
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_and_its_event_reach_the_consumer_through_feed_relay_and_queue()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let running = Running::start(dir.path()).await?;
    let event = registered();
    running.write(&event).await?;
    running.delivered(std::slice::from_ref(&event)).await?;
    running.counted_once(std::slice::from_ref(&event)).await?;
    running.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_write_and_relay_loses_no_event() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let first = Running::start(dir.path()).await?;
    let before: Vec<Event> = (0..20).map(|_| registered()).collect();
    for event in &before {
        first.write(event).await?;
    }
    // Killed as soon as the pipeline is under way: some events are through, some in flight.
    first.delivered(&before[..1]).await?;
    let store = first.backend.store()?;
    first.kill();
    // Committed after the kill: the relay cannot have seen these.
    let after: Vec<Event> = (0..3).map(|_| registered()).collect();
    for event in &after {
        write_with_change(store.as_ref(), event).await?;
    }
    drop(store);

    let second = Running::start(dir.path()).await?;
    let all: Vec<Event> = before.into_iter().chain(after).collect();
    second.delivered(&all).await?;
    let backend_stopped = second.backend.store()?;
    let tally = second.tally.clone();
    second.stop().await?;
    for event in &all {
        assert_eq!(
            tally.count(&event.aggregate_id).await?,
            1,
            "event {}",
            event.id
        );
        assert!(
            is_relayed(backend_stopped.as_ref(), event).await?,
            "event {}",
            event.id
        );
    }
    Ok(())
}
