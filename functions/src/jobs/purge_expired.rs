//! `purge_expired`: the scheduled purge of expired items, on demand as a job.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use shared::store::ItemStore;

use crate::jobs::{JobError, JobType, NoPayload};
use crate::maintenance::purge_expired::PurgeExpired;

#[derive(Debug, Clone)]
pub struct PurgeExpiredJob(PurgeExpired);

impl PurgeExpiredJob {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self(PurgeExpired::new(store))
    }
}

#[async_trait]
impl JobType for PurgeExpiredJob {
    const NAME: &'static str = "purge_expired";
    type Payload = NoPayload;

    async fn run(&self, _: NoPayload) -> Result<Value, JobError> {
        let report = self.0.run().await.map_err(JobError::Retryable)?;
        serde_json::to_value(report).map_err(|e| JobError::Permanent(e.into()))
    }
}
