//! `export_users`: every user (or those of one status) as CSV in the blob store, with a
//! download link valid 15 minutes in the job's result.
//!
//! Users are read a page at a time and the file goes up in parts ([`BlobWriter`]), so memory
//! stays flat however many users there are. The file holds what the users API shows, never a
//! password hash; every cell is quoted when it needs to be and defused when a spreadsheet
//! would read it as a formula (a leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'`
//! in front, as OWASP recommends). A failed attempt drops its partial upload; nothing is
//! under the key until the file is whole. Files live under `exports/`, which the bucket
//! expires after a week.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::blob::{BlobStore, BlobWriter};
use shared::clock::{Clock, Random};
use shared::store::ItemStore;
use shared::users::{User, UserRepo, UserStatus};

use crate::jobs::{JobFailure, JobPayload, JobType};

/// How long the download link in the result works.
pub const LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Users read per page.
const PAGE: usize = 100;

const HEADER: [&str; 8] = [
    "id",
    "email",
    "name",
    "phone",
    "status",
    "email_verified",
    "created_at",
    "updated_at",
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportUsersRequest {
    /// Only the users of this status; every user without it.
    #[serde(default)]
    pub status: Option<UserStatus>,
}

impl JobPayload for ExportUsersRequest {
    const JOB_TYPE: &'static str = "export_users";
}

#[derive(Debug, Clone)]
pub struct ExportUsers {
    store: Arc<dyn ItemStore>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

impl ExportUsers {
    pub fn new(
        store: Arc<dyn ItemStore>,
        blobs: Arc<dyn BlobStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        Self {
            store,
            blobs,
            clock,
            random,
        }
    }

    /// Writes every page into the upload; the number of users written.
    async fn write_all(
        &self,
        writer: &mut BlobWriter<'_>,
        status: Option<UserStatus>,
    ) -> anyhow::Result<u64> {
        let users = UserRepo::new(self.store.clone());
        writer
            .write(row(HEADER.map(str::to_owned)).as_bytes())
            .await?;
        let (mut rows, mut position) = (0, None);
        loop {
            let (page, next) = users.walk(status, PAGE, position).await?;
            let mut chunk = String::new();
            for user in &page {
                chunk.push_str(&row(cells(user)));
            }
            writer.write(chunk.as_bytes()).await?;
            rows += page.len() as u64;
            match next {
                Some(next) => position = Some(next),
                None => return Ok(rows),
            }
        }
    }
}

#[async_trait]
impl JobType for ExportUsers {
    type Payload = ExportUsersRequest;

    async fn run(&self, request: ExportUsersRequest) -> Result<Value, JobFailure> {
        let now = self.clock.now();
        let key = format!(
            "exports/users-{}-{}.csv",
            now.format("%Y%m%dT%H%M%SZ"),
            self.random.id().simple()
        );
        let retryable = |e: anyhow::Error| JobFailure::Retryable(e.context("exporting users"));
        let mut writer = BlobWriter::start(self.blobs.as_ref(), &key, "text/csv; charset=utf-8")
            .await
            .map_err(|e| retryable(e.into()))?;
        let rows = match self.write_all(&mut writer, request.status).await {
            Ok(rows) => rows,
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, key, "could not drop a partial export");
                }
                return Err(retryable(e));
            }
        };
        let bytes = writer.finish().await.map_err(|e| retryable(e.into()))?;
        let url = self
            .blobs
            .presign_download(&key, LINK_LIFETIME)
            .await
            .map_err(|e| retryable(e.into()))?;
        let expires_at = now + chrono::TimeDelta::seconds(LINK_LIFETIME.as_secs() as i64);
        tracing::info!(key, rows, bytes, "users exported");
        Ok(json!({
            "key": key,
            "rows": rows,
            "bytes": bytes,
            "download_url": url,
            "expires_at": expires_at,
        }))
    }
}

/// A user's cells, in the header's order: what the API shows of them, no hash.
fn cells(user: &User) -> [String; 8] {
    let public = user.public();
    let status = match public.status {
        UserStatus::Active => "active",
        UserStatus::Disabled => "disabled",
    };
    [
        public.id.to_string(),
        public.email.to_string(),
        public.name.as_str().to_owned(),
        public
            .phone
            .as_ref()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        status.to_owned(),
        public.email_verified.to_string(),
        public.created_at.to_rfc3339(),
        public.updated_at.to_rfc3339(),
    ]
}

/// One CSV record (RFC 4180), every cell defused and quoted as needed.
fn row<const N: usize>(cells: [String; N]) -> String {
    let mut line = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

fn cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_that_a_spreadsheet_would_run_is_defused() {
        assert_eq!(
            cell("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        for (raw, safe) in [
            ("+1 555", "'+1 555"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("Ada, Countess", "\"Ada, Countess\""),
            ("plain", "plain"),
        ] {
            assert_eq!(cell(raw), safe, "{raw:?}");
        }
    }

    #[test]
    fn a_row_ends_with_crlf() {
        assert_eq!(row(["a".into(), "b c".into()]), "a,b c\r\n");
    }
}
