//! The local event runtime, wired from the table of functions: every function with a schedule
//! gets it from the [`Scheduler`]; queue and stream consumers get a [`QueuePump`] or a
//! [`FeedPump`]. Each handler is built by its entry of the table, as its Lambda main builds it.

use std::time::Duration;

use functions::wiring::{Function, Trigger};
use infra::compose::{Backend, LocalBackend};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::feed_pump::FeedPump;
use crate::queue_pump::QueuePump;
use crate::scheduler::Scheduler;

#[derive(Debug)]
pub struct Runtime {
    scheduler: Scheduler,
    queue_pumps: Vec<QueuePump>,
    feed_pumps: Vec<FeedPump>,
}

impl Runtime {
    /// The runtime for every event-triggered function among `functions`, over `backend`.
    /// (HTTP functions are the server's.)
    pub fn new(backend: &LocalBackend, functions: &[Function]) -> anyhow::Result<Self> {
        let mut runtime = Self {
            scheduler: Scheduler::new(backend.clock()),
            queue_pumps: Vec::new(),
            feed_pumps: Vec::new(),
        };
        for function in functions {
            match function.trigger() {
                Trigger::Schedule { expression } => {
                    let handler = function.schedule_handler(backend)?;
                    runtime.scheduler.add(function.name, expression, handler)?;
                }
                Trigger::Stream => {
                    let handler = function.stream_handler(backend)?;
                    let pump = FeedPump::new(function.name, backend.local_store(), handler);
                    runtime.feed_pumps.push(pump);
                }
                Trigger::Queue { queue } => {
                    let handler = function.queue_handler(backend)?;
                    let pump = QueuePump::new(queue, backend.local_queue(queue), handler);
                    runtime.queue_pumps.push(pump);
                }
                Trigger::Http(_) => {}
            }
        }
        Ok(runtime)
    }

    /// Sets the visibility timeout of every queue consumer's received messages.
    pub fn with_queue_visibility(mut self, visibility: Duration) -> Self {
        self.queue_pumps = self
            .queue_pumps
            .into_iter()
            .map(|pump| pump.with_visibility(visibility))
            .collect();
        self
    }

    pub fn with_queue_pump(mut self, pump: QueuePump) -> Self {
        self.queue_pumps.push(pump);
        self
    }

    pub fn with_feed_pump(mut self, pump: FeedPump) -> Self {
        self.feed_pumps.push(pump);
        self
    }

    /// Starts every part; each stops when `shutdown` turns true.
    pub fn spawn(self, shutdown: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(self.scheduler.run(shutdown.clone()))];
        tasks.extend(
            self.queue_pumps
                .into_iter()
                .map(|pump| tokio::spawn(pump.run(shutdown.clone()))),
        );
        tasks.extend(
            self.feed_pumps
                .into_iter()
                .map(|pump| tokio::spawn(pump.run(shutdown.clone()))),
        );
        tasks
    }
}
