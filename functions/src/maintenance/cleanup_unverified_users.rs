//! `cleanup_unverified_users`: accounts whose address was never verified are removed after
//! `UNVERIFIED_ACCOUNT_DAYS` (30 by default), so an abandoned or mistyped registration does not
//! hold its address for ever. It runs on a schedule and as a job type.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::accounts::{AccountError, Accounts};
use shared::users::UserRepo;

use crate::jobs::{JobFailure, JobPayload, JobType};
use crate::trigger::ScheduleHandler;

/// Accounts looked at per run; a daily run with a backlog catches up over a few runs.
const LIMIT: usize = 100;

/// A cleanup on demand, as a job; it takes no input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupRequest {}

impl JobPayload for CleanupRequest {
    const JOB_TYPE: &'static str = "cleanup_unverified_users";
}

#[derive(Debug, Clone)]
pub struct CleanupUnverifiedUsers {
    accounts: Accounts,
    older_than: Duration,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    pub found: usize,
    pub deleted: usize,
}

impl CleanupUnverifiedUsers {
    pub fn new(accounts: Accounts, older_than: Duration) -> Self {
        Self {
            accounts,
            older_than,
        }
    }

    pub async fn run(&self) -> anyhow::Result<CleanupReport> {
        let cutoff = self.accounts.clock.now()
            - TimeDelta::from_std(self.older_than).context("the age limit is out of range")?;
        let users = UserRepo::new(self.accounts.store.clone());
        let candidates = users
            .unverified_before(cutoff, LIMIT)
            .await
            .context("listing unverified users")?;
        let mut report = CleanupReport {
            found: candidates.len(),
            deleted: 0,
        };
        for listed in candidates {
            // The index may lag: decide on a fresh read, and delete only what was read.
            let Some(user) = users.get(listed.id).await.context("reading a user")? else {
                continue;
            };
            if user.email_verified || user.created_at >= cutoff {
                continue;
            }
            match self.accounts.delete_user(&user).await {
                Ok(()) => report.deleted += 1,
                // Verified or changed meanwhile: it stays.
                Err(AccountError::NotFound) => {}
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("deleting user {}", user.id)));
                }
            }
        }
        tracing::info!(
            found = report.found,
            deleted = report.deleted,
            "cleanup of unverified users done"
        );
        Ok(report)
    }
}

#[async_trait]
impl ScheduleHandler for CleanupUnverifiedUsers {
    async fn handle(&self, _: EventBridgeEvent<Value>) -> anyhow::Result<Value> {
        Ok(serde_json::to_value(self.run().await?)?)
    }
}

#[async_trait]
impl JobType for CleanupUnverifiedUsers {
    type Payload = CleanupRequest;

    async fn run(&self, _: CleanupRequest) -> Result<Value, JobFailure> {
        let report = CleanupUnverifiedUsers::run(self)
            .await
            .map_err(JobFailure::Retryable)?;
        serde_json::to_value(report).map_err(|e| JobFailure::Permanent(e.into()))
    }
}
