//! The `reconcile_outbox` schedule: publishes outbox events still pending a while after they
//! occurred, and marks them relayed.
//!
//! The relay normally publishes an event within a second or two of its commit. A stream batch
//! that exhausted its retries or outlived the stream's retention never reaches it; this run
//! finds what it left in the pending index, so a lost batch loses nothing. When the relay is
//! merely late, both publish: consumers deduplicate by event id.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::TimeDelta;
use serde::Serialize;
use serde_json::Value;
use shared::clock::Clock;
use shared::messaging::outbox::{mark_relayed, pending_older_than};
use shared::store::ItemStore;

use crate::messaging::publisher::Publisher;
use crate::trigger::ScheduleHandler;

/// The most events one run publishes; the next run takes the rest.
pub const LIMIT: usize = 500;

#[derive(Debug, Clone)]
pub struct ReconcileOutbox {
    store: Arc<dyn ItemStore>,
    publisher: Publisher,
    clock: Arc<dyn Clock>,
    after: TimeDelta,
    limit: usize,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Pending events old enough to publish.
    pub found: usize,
    pub published: usize,
    pub failed: usize,
}

impl ReconcileOutbox {
    /// Publishes events pending for longer than `after`.
    pub fn new(
        store: Arc<dyn ItemStore>,
        publisher: Publisher,
        clock: Arc<dyn Clock>,
        after: Duration,
    ) -> Self {
        Self {
            store,
            publisher,
            clock,
            after: TimeDelta::from_std(after).unwrap_or(TimeDelta::MAX),
            limit: LIMIT,
        }
    }

    pub fn with_limit(self, limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            ..self
        }
    }

    pub async fn run(&self) -> anyhow::Result<ReconcileReport> {
        let pending = pending_older_than(
            self.store.as_ref(),
            self.after,
            self.clock.now(),
            self.limit,
        )
        .await
        .context("listing pending outbox events")?;
        let mut report = ReconcileReport {
            found: pending.len(),
            published: 0,
            failed: 0,
        };
        for event in &pending {
            let relayed = match self.publisher.publish(event).await {
                Ok(_) => mark_relayed(self.store.as_ref(), event, self.clock.now())
                    .await
                    .with_context(|| format!("marking event {} relayed", event.id)),
                Err(error) => Err(error),
            };
            match relayed {
                Ok(_) => report.published += 1,
                Err(error) => {
                    tracing::error!(event = %event.id, error = %format_args!("{error:#}"), "could not relay a pending event");
                    report.failed += 1;
                }
            }
        }
        if report.found > 0 {
            tracing::warn!(
                found = report.found,
                published = report.published,
                failed = report.failed,
                "relayed events the stream had not"
            );
        }
        Ok(report)
    }
}

#[async_trait]
impl ScheduleHandler for ReconcileOutbox {
    async fn handle(&self, event: EventBridgeEvent<Value>) -> anyhow::Result<Value> {
        tracing::debug!(id = ?event.id, time = ?event.time, "scheduled outbox reconciliation");
        let report = self.run().await?;
        if report.failed > 0 {
            bail!(
                "{} of {} pending outbox events could not be relayed",
                report.failed,
                report.found
            );
        }
        Ok(serde_json::to_value(report)?)
    }
}
