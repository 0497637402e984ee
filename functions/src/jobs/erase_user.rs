//! `erase_user`: removes what is still keyed to a deleted account (see
//! [`shared::accounts::removal`]). Caused by every `user.deleted` event; safe to run any number
//! of times, and a no-op once nothing is left.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::accounts::Accounts;
use uuid::Uuid;

use crate::jobs::{JobFailure, JobPayload, JobType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseUserPayload {
    pub user_id: Uuid,
}

impl JobPayload for EraseUserPayload {
    const JOB_TYPE: &'static str = "erase_user";
}

#[derive(Debug, Clone)]
pub struct EraseUser {
    accounts: Accounts,
}

impl EraseUser {
    pub fn new(accounts: Accounts) -> Self {
        Self { accounts }
    }
}

#[async_trait]
impl JobType for EraseUser {
    type Payload = EraseUserPayload;

    async fn run(&self, payload: EraseUserPayload) -> Result<Value, JobFailure> {
        let removed = self
            .accounts
            .erase_remains(payload.user_id)
            .await
            .map_err(|e| JobFailure::Retryable(anyhow::Error::new(e)))?;
        Ok(json!({ "removed": removed }))
    }
}
