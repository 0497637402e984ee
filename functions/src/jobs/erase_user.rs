//! `erase_user`: removes what is still keyed to a deleted account (see
//! [`shared::accounts::removal`]). Caused by every `user.deleted` event; safe to run any number
//! of times, and a no-op once nothing is left. The account's avatar goes with it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

use shared::accounts::Accounts;
use shared::blob::BlobStore;
use uuid::Uuid;

use crate::jobs::process_avatar::AVATARS_PREFIX;
use crate::jobs::{JobFailure, JobPayload, JobType};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseUserPayload {
    pub user_id: Uuid,
    /// The deleted user's avatar blob.
    #[serde(default)]
    pub avatar_key: Option<String>,
}

impl JobPayload for EraseUserPayload {
    const JOB_TYPE: &'static str = "erase_user";
}

#[derive(Debug, Clone)]
pub struct EraseUser {
    accounts: Accounts,
    blobs: Arc<dyn BlobStore>,
}

impl EraseUser {
    pub fn new(accounts: Accounts, blobs: Arc<dyn BlobStore>) -> Self {
        Self { accounts, blobs }
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
        // Only a blob of this user's avatars: the payload cannot point the job elsewhere.
        let own = format!("{AVATARS_PREFIX}{}/", payload.user_id);
        let avatar = payload.avatar_key.filter(|key| key.starts_with(&own));
        if let Some(key) = &avatar {
            self.blobs
                .delete(key)
                .await
                .map_err(|e| JobFailure::Retryable(anyhow::Error::new(e)))?;
        }
        Ok(json!({ "removed": removed, "avatar_deleted": avatar.is_some() }))
    }
}
