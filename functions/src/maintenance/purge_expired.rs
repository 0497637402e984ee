//! The `purge_expired` schedule: removes expired items from the item store eagerly.
//!
//! Expired items are already absent to every reader (see [`shared::store`]); removing them
//! frees space sooner than DynamoDB's own TTL deletion and lets the change feed see them go.
//! It purges in batches until none are left or its time budget is spent; what is left waits for
//! the next run. It runs on a schedule and as a job type.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::store::ItemStore;

use crate::jobs::{JobFailure, JobPayload, JobType};
use crate::trigger::ScheduleHandler;

/// Items removed per store call.
pub const BATCH: usize = 100;

/// How long one run keeps purging; well under the function's timeout, so it always reports.
pub const BUDGET: Duration = Duration::from_secs(45);

/// A purge on demand, as a job; it takes no input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {}

impl JobPayload for PurgeRequest {
    const JOB_TYPE: &'static str = "purge_expired";
}

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
        Self {
            store,
            batch: BATCH,
            budget: BUDGET,
        }
    }

    pub fn with_limits(self, batch: usize, budget: Duration) -> Self {
        Self {
            batch: batch.max(1),
            budget,
            ..self
        }
    }

    pub async fn run(&self) -> anyhow::Result<PurgeReport> {
        let started = Instant::now();
        let mut report = PurgeReport {
            removed: 0,
            batches: 0,
            finished: false,
        };
        while started.elapsed() < self.budget {
            let removed = self
                .store
                .purge_expired(self.batch)
                .await
                .with_context(|| {
                    format!(
                        "purging expired items after removing {} of them",
                        report.removed
                    )
                })?;
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

#[async_trait]
impl JobType for PurgeExpired {
    type Payload = PurgeRequest;

    async fn run(&self, _: PurgeRequest) -> Result<Value, JobFailure> {
        let report = PurgeExpired::run(self)
            .await
            .map_err(JobFailure::Retryable)?;
        serde_json::to_value(report).map_err(|e| JobFailure::Permanent(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use chrono::{DateTime, Utc};
    use shared::store::{Condition, Item, Key, Page, Query, StoreError, Write};

    /// A store whose purges remove the given counts in turn, then nothing.
    #[derive(Debug)]
    struct Scripted(Mutex<Vec<usize>>);

    #[async_trait]
    impl ItemStore for Scripted {
        async fn get(&self, _: &Key) -> Result<Option<Item>, StoreError> {
            Ok(None)
        }
        async fn put(&self, _: Item, _: Option<Condition>) -> Result<(), StoreError> {
            Ok(())
        }
        async fn delete(&self, _: &Key, _: Option<Condition>) -> Result<(), StoreError> {
            Ok(())
        }
        async fn transact(&self, _: Vec<Write>) -> Result<(), StoreError> {
            Ok(())
        }
        async fn add(
            &self,
            _: &Key,
            _: &str,
            _: i64,
            _: Option<DateTime<Utc>>,
        ) -> Result<i64, StoreError> {
            Ok(0)
        }
        async fn query(&self, _: Query) -> Result<Page, StoreError> {
            Ok(Page::default())
        }
        async fn purge_expired(&self, limit: usize) -> Result<usize, StoreError> {
            let mut script = self.0.lock().unwrap();
            let next = if script.is_empty() {
                0
            } else {
                script.remove(0)
            };
            if next == usize::MAX {
                return Err(StoreError::Unexpected(anyhow::anyhow!("throttled")));
            }
            Ok(next.min(limit))
        }
    }

    fn purge(script: Vec<usize>) -> PurgeExpired {
        PurgeExpired::new(Arc::new(Scripted(Mutex::new(script))))
    }

    #[tokio::test]
    async fn it_purges_in_batches_until_none_are_left() {
        let report = purge(vec![100, 100, 30]).run().await.ok();
        assert_eq!(
            report,
            Some(PurgeReport {
                removed: 230,
                batches: 4,
                finished: true
            })
        );
    }

    #[tokio::test]
    async fn it_stops_when_its_budget_is_spent() {
        let report = purge(vec![100; 5])
            .with_limits(100, Duration::ZERO)
            .run()
            .await
            .ok();
        assert_eq!(
            report,
            Some(PurgeReport {
                removed: 0,
                batches: 0,
                finished: false
            })
        );
    }

    #[tokio::test]
    async fn a_store_failure_fails_the_run_and_says_how_far_it_got() {
        let error = purge(vec![100, usize::MAX])
            .run()
            .await
            .err()
            .map(|e| format!("{e:#}"));
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("after removing 100") && e.contains("throttled")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn the_scheduled_handler_returns_the_report() {
        let report = purge(vec![3])
            .handle(EventBridgeEvent::default())
            .await
            .ok();
        assert_eq!(
            report,
            Some(serde_json::json!({"removed": 3, "batches": 2, "finished": true}))
        );
    }
}
