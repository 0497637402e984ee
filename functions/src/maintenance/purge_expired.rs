//! The `purge_expired` schedule: removes expired items from the item store eagerly.
//!
//! Expired items are already absent to every reader (see [`shared::store`]); removing them
//! frees space sooner than DynamoDB's own TTL deletion and lets the change feed see them go.
//! It purges in batches until none are left or its time budget is spent; what is left waits for
//! the next run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Serialize;
use serde_json::Value;
use shared::store::ItemStore;

use crate::event::ScheduleHandler;

/// The function's name in the catalog.
pub const FUNCTION: &str = "purge_expired";

/// Items removed per store call.
pub const BATCH: usize = 100;

/// How long one run keeps purging; well under the function's timeout, so it always reports.
pub const BUDGET: Duration = Duration::from_secs(45);

#[derive(Debug, Clone)]
pub struct PurgeExpired {
    store: Arc<dyn ItemStore>,
    batch: usize,
    budget: Duration,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub removed: usize,
    pub batches: usize,
    /// Whether the run stopped because nothing expired was left (not because of its budget).
    pub finished: bool,
}

impl PurgeExpired {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store, batch: BATCH, budget: BUDGET }
    }

    pub fn with_limits(self, batch: usize, budget: Duration) -> Self {
        Self { batch: batch.max(1), budget, ..self }
    }

    pub async fn run(&self) -> anyhow::Result<PurgeReport> {
        let started = Instant::now();
        let mut report = PurgeReport { removed: 0, batches: 0, finished: false };
        while started.elapsed() < self.budget {
            let removed = self
                .store
                .purge_expired(self.batch)
                .await
                .with_context(|| format!("purging expired items after removing {} of them", report.removed))?;
            report.batches += 1;
            report.removed += removed;
            if removed == 0 {
                report.finished = true;
                break;
            }
        }
        tracing::info!(
            removed = report.removed,
            batches = report.batches,
            finished = report.finished,
            "purged expired items"
        );
        Ok(report)
    }
}

#[async_trait]
impl ScheduleHandler for PurgeExpired {
    async fn handle(&self, event: EventBridgeEvent<Value>) -> anyhow::Result<Value> {
        tracing::debug!(id = ?event.id, time = ?event.time, "scheduled purge");
        Ok(serde_json::to_value(self.run().await?)?)
    }
}
