//! The upload notifications: S3's ObjectCreated events for the avatar quarantine, through a
//! queue (on AWS the bucket sends them, locally the local blob store sends the same event),
//! each becoming a `process_avatar` job.
//!
//! A record outside `uploads/avatars/<user id>/` is ignored with a log (the bucket's filter
//! should not let one through), and so is S3's `s3:TestEvent`. A message that is not an S3
//! event is reported as failed, so it dead-letters; the other messages of its batch go on.
//! Only the fields the handler needs are read, so a sparse event (the emulator leaves out
//! `userIdentity`, which `aws_lambda_events` requires) is read the same.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde::Deserialize;
use shared::clock::{Clock, Random};
use shared::jobs::enqueue::{NewJob, enqueue_writes_as};
use shared::store::{ItemStore, StoreError};
use uuid::Uuid;

use crate::jobs::process_avatar::{ProcessAvatarRequest, QUARANTINE_PREFIX};
use crate::trigger::SqsHandler;

/// What the handler reads of an S3 event notification.
#[derive(Debug, Deserialize)]
struct Notification {
    #[serde(rename = "Records")]
    records: Vec<Record>,
}

#[derive(Debug, Deserialize)]
struct Record {
    #[serde(rename = "eventVersion")]
    event_version: String,
    s3: Entity,
}

#[derive(Debug, Deserialize)]
struct Entity {
    object: Object,
}

#[derive(Debug, Deserialize)]
struct Object {
    key: String,
}

#[derive(Debug, Clone)]
pub struct AvatarUploaded {
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

impl AvatarUploaded {
    pub fn new(store: Arc<dyn ItemStore>, clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Self {
        Self {
            store,
            clock,
            random,
        }
    }

    /// The jobs of one message's records; an error when the message is not an S3 event.
    async fn enqueue(&self, body: &str) -> anyhow::Result<usize> {
        if serde_json::from_str::<serde_json::Value>(body)
            .is_ok_and(|v| v.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent"))
        {
            return Ok(0);
        }
        let event: Notification = serde_json::from_str(body)?;
        // S3's notifications are at version 2.x; a new major version may mean other fields.
        if let Some(record) = event
            .records
            .iter()
            .find(|r| !r.event_version.starts_with("2."))
        {
            anyhow::bail!(
                "an S3 event of version {:?}, which this build does not read (2.x)",
                record.event_version
            );
        }
        let (mut writes, mut jobs) = (Vec::new(), 0);
        for record in &event.records {
            let key = url_decoded(&record.s3.object.key);
            let Some(user_id) = uploader(&key) else {
                tracing::warn!(key, "an upload notification outside the avatar quarantine");
                continue;
            };
            // The upload's own id names its job, so a notification delivered twice (SQS and
            // S3 both deliver at least once) queues one job.
            let id = upload_id(&key).unwrap_or_else(|| self.random.id());
            let job = NewJob::of(&ProcessAvatarRequest { user_id, key })?;
            let (_, enqueue) = enqueue_writes_as(id, job, self.clock.now(), self.random.as_ref())?;
            writes.extend(enqueue);
            jobs += 1;
        }
        if writes.is_empty() {
            return Ok(0);
        }
        match self.store.transact(writes).await {
            Ok(()) => Ok(jobs),
            Err(StoreError::ConditionFailed { .. }) => {
                tracing::info!("an upload notification delivered again; its job is queued already");
                Ok(0)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The id an upload was given: the name of `uploads/avatars/<user id>/<id>`, as the upload
/// form names it.
pub fn upload_id(key: &str) -> Option<Uuid> {
    let (_, name) = key.rsplit_once('/')?;
    Uuid::try_parse(name).ok()
}

/// The user an upload key belongs to: `uploads/avatars/<user id>/<name>`.
pub fn uploader(key: &str) -> Option<Uuid> {
    let rest = key.strip_prefix(QUARANTINE_PREFIX)?;
    let (user, name) = rest.split_once('/')?;
    (!name.is_empty() && !name.contains('/'))
        .then(|| Uuid::parse_str(user).ok())
        .flatten()
}

/// An S3 event's object key, URL-decoded (`+` is a space, `%XX` a byte).
fn url_decoded(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[async_trait]
impl SqsHandler for AvatarUploaded {
    async fn handle(&self, event: SqsEvent) -> anyhow::Result<SqsBatchResponse> {
        let mut response = SqsBatchResponse::default();
        for message in event.records {
            // Without its id a failure could not be reported alone: fail the whole batch.
            let Some(id) = message.message_id.clone() else {
                anyhow::bail!("a message without an id cannot be reported alone");
            };
            match self
                .enqueue(message.body.as_deref().unwrap_or_default())
                .await
            {
                Ok(jobs) => tracing::debug!(message = id, jobs, "upload notification handled"),
                Err(error) => {
                    tracing::error!(
                        message = id,
                        error = format!("{error:#}"),
                        "an upload notification failed"
                    );
                    response.add_failure(id);
                }
            }
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_of_the_quarantine_name_a_user() {
        let id = Uuid::now_v7();
        assert_eq!(uploader(&format!("uploads/avatars/{id}/a1b2")), Some(id));
        for bad in [
            format!("avatars/{id}/a1b2"),
            format!("uploads/avatars/{id}/"),
            format!("uploads/avatars/{id}/x/y"),
            "uploads/avatars/not-a-uuid/x".to_owned(),
        ] {
            assert_eq!(uploader(&bad), None, "{bad}");
        }
    }

    #[test]
    fn the_emulators_sparse_notification_parses() {
        // As moto sends it: no userIdentity, requestParameters or sequencer.
        let body = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-12-02T16:40:24.928Z", "eventName": "ObjectCreated:Post", "s3": {"s3SchemaVersion": "1.0", "configurationId": "CkhQ7ytReOBIVvOhJfFzT2JyCmvmYNdM2dTfIGVmeGwNQwFjqc", "bucket": {"name": "bucket-one", "arn": "arn:aws:s3:::bucket-one"}, "object": {"key": "uploads%2Fz", "size": 5, "eTag": "5d41402abc4b2a76b9719d911017c592"}}}]}"#;
        let event: Notification = serde_json::from_str(body).unwrap();
        assert_eq!(url_decoded(&event.records[0].s3.object.key), "uploads/z");
    }

    #[test]
    fn the_local_blob_store_sends_what_s3_sends() {
        let at = chrono::Utc::now();
        let body = infra::blob::local::object_created("uploads/avatars/x/y", 42, at).to_string();
        let full: aws_lambda_events::s3::S3Event = serde_json::from_str(&body).unwrap();
        assert_eq!(
            full.records[0].event_name.as_deref(),
            Some("ObjectCreated:Post")
        );
        assert_eq!(full.records[0].s3.object.size, Some(42));
        let read: Notification = serde_json::from_str(&body).unwrap();
        assert_eq!(read.records[0].s3.object.key, "uploads/avatars/x/y");
    }

    #[test]
    fn keys_are_url_decoded_as_s3_encodes_them() {
        assert_eq!(url_decoded("uploads/a+b%2Fc%zz"), "uploads/a b/c%zz");
        assert_eq!(url_decoded("plain/key-1.png"), "plain/key-1.png");
    }
}
