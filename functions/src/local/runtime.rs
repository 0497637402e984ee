//! The local event runtime, wired from the catalog: every function with a schedule gets it from
//! the [`Scheduler`]; queue and stream consumers get a [`QueuePump`] or a [`FeedPump`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use infra::compose::Backend;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::catalog::{FUNCTIONS, Trigger};
use crate::event::{ScheduleHandler, SqsHandler, StreamHandler};
use crate::jobs::cleanup_unverified_users::{self, CleanupUnverifiedUsers};
use crate::jobs::redrive_stuck_jobs::{self, RedriveStuckJobs};
use crate::jobs::worker::{self, Worker};
use crate::local::feed_pump::FeedPump;
use crate::local::queue_pump::QueuePump;
use crate::local::scheduler::Scheduler;
use crate::maintenance::purge_expired::{self, PurgeExpired};
use crate::maintenance::reconcile_outbox::{self, ReconcileOutbox};
use crate::messaging::consumer::{self, Consumer};
use crate::messaging::reaction::Reactions;
use crate::messaging::relay::{self, Relay};
use crate::messaging::subscriptions::subscriptions;

#[derive(Debug)]
pub struct Runtime {
    scheduler: Scheduler,
    queue_pumps: Vec<QueuePump>,
    feed_pumps: Vec<FeedPump>,
}

impl Runtime {
    /// The runtime for every event-triggered function of the catalog, over a local backend.
    pub fn from_catalog(backend: &Backend) -> anyhow::Result<Self> {
        Self::from_catalog_with(backend, subscriptions(backend)?)
    }

    /// As [`Runtime::from_catalog`], with the events consumer running `reactions` instead of
    /// the system's subscriptions.
    pub fn from_catalog_with(backend: &Backend, reactions: Reactions) -> anyhow::Result<Self> {
        let Backend::Local(local) = backend else {
            bail!("the local event runtime needs a local backend");
        };
        let mut runtime = Self {
            scheduler: Scheduler::new(backend.clock()),
            queue_pumps: Vec::new(),
            feed_pumps: Vec::new(),
        };
        for function in FUNCTIONS {
            let context = || format!("building the handler of {}", function.name);
            match function.trigger {
                // Served by the HTTP server.
                Trigger::Http { .. } => {}
                Trigger::Schedule { expression } => {
                    let handler = schedule_handler(function.name, backend).with_context(context)?;
                    runtime.scheduler.add(function.name, expression, handler)?;
                }
                Trigger::Stream => {
                    let handler = stream_handler(function.name, backend).with_context(context)?;
                    let pump = FeedPump::new(function.name, local.local_store(), handler);
                    runtime.feed_pumps.push(pump);
                }
                Trigger::Queue { queue } => {
                    let handler =
                        sqs_handler(function.name, backend, &reactions).with_context(context)?;
                    runtime.queue_pumps.push(QueuePump::new(
                        queue,
                        local.local_queue(queue),
                        handler,
                    ));
                }
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

/// The handler of a scheduled function, built as its Lambda main builds it.
pub fn schedule_handler(
    function: &str,
    backend: &Backend,
) -> anyhow::Result<Arc<dyn ScheduleHandler>> {
    match function {
        purge_expired::FUNCTION => Ok(Arc::new(PurgeExpired::new(backend.store()?))),
        reconcile_outbox::FUNCTION => Ok(Arc::new(ReconcileOutbox::from_backend(backend)?)),
        redrive_stuck_jobs::FUNCTION => Ok(Arc::new(RedriveStuckJobs::from_backend(backend)?)),
        cleanup_unverified_users::FUNCTION => {
            Ok(Arc::new(CleanupUnverifiedUsers::from_backend(backend)?))
        }
        other => bail!("no schedule handler is written for the function {other}"),
    }
}

/// The handler of a stream consumer, built as its Lambda main builds it.
pub fn stream_handler(function: &str, backend: &Backend) -> anyhow::Result<Arc<dyn StreamHandler>> {
    match function {
        relay::FUNCTION => Ok(Arc::new(Relay::from_backend(backend)?)),
        other => Err(anyhow!(
            "no stream handler is written for the function {other}"
        )),
    }
}

/// The handler of a queue consumer, built as its Lambda main builds it but for the reactions.
pub fn sqs_handler(
    function: &str,
    backend: &Backend,
    reactions: &Reactions,
) -> anyhow::Result<Arc<dyn SqsHandler>> {
    match function {
        consumer::FUNCTION => Ok(Arc::new(Consumer::new(
            backend.store()?,
            backend.clock(),
            reactions.clone(),
        ))),
        worker::FUNCTION => Ok(Arc::new(Worker::from_backend(backend)?)),
        other => Err(anyhow!(
            "no queue handler is written for the function {other}"
        )),
    }
}
