//! The local event runtime, wired from the catalog: every function with a schedule gets it from
//! the [`Scheduler`]; queue and stream consumers get a [`QueuePump`] or a [`FeedPump`].

use std::sync::Arc;

use anyhow::{Context, bail};
use infra::compose::Backend;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::catalog::{FUNCTIONS, Trigger};
use crate::event::ScheduleHandler;
use crate::local::feed_pump::FeedPump;
use crate::local::queue_pump::QueuePump;
use crate::local::scheduler::Scheduler;
use crate::maintenance::purge_expired::{self, PurgeExpired};

#[derive(Debug)]
pub struct Runtime {
    scheduler: Scheduler,
    queue_pumps: Vec<QueuePump>,
    feed_pumps: Vec<FeedPump>,
}

impl Runtime {
    /// The runtime for every event-triggered function of the catalog.
    pub fn from_catalog(backend: &Backend) -> anyhow::Result<Self> {
        let mut scheduler = Scheduler::new(backend.clock());
        for function in FUNCTIONS {
            match function.trigger {
                // Served by the HTTP server.
                Trigger::Http { .. } => {}
                Trigger::Schedule { expression } => {
                    let handler = schedule_handler(function.name, backend)
                        .with_context(|| format!("building the handler of {}", function.name))?;
                    scheduler.add(function.name, expression, handler)?;
                }
            }
        }
        Ok(Self {
            scheduler,
            queue_pumps: Vec::new(),
            feed_pumps: Vec::new(),
        })
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

/// The handler of a scheduled function, built as its Lambda main builds it.
pub fn schedule_handler(
    function: &str,
    backend: &Backend,
) -> anyhow::Result<Arc<dyn ScheduleHandler>> {
    match function {
        purge_expired::FUNCTION => Ok(Arc::new(PurgeExpired::new(backend.store()?))),
        other => bail!("no schedule handler is written for the function {other}"),
    }
}
