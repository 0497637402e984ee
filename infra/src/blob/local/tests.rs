//! The local checks of forms and URLs; the round trips over HTTP are in the conformance suite.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta};
use shared::blob::{BlobStore, UploadForms, UploadPolicy};
use shared::clock::ManualClock;
use shared::queue::{Queue, QueueError, ReceivedMessage};

use super::{DownloadRejected, LocalBlobs, SIGNATURE_FIELD, UploadRejected};

struct Fixture {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    blobs: LocalBlobs,
}

fn fixture() -> anyhow::Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(
        DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    ));
    let blobs = LocalBlobs::new(
        dir.path().join("blobs"),
        "http://127.0.0.1:1/".into(),
        [7; 32],
        clock.clone(),
    );
    Ok(Fixture {
        _dir: dir,
        clock,
        blobs,
    })
}

fn policy() -> UploadPolicy {
    UploadPolicy {
        key: "avatars/u1/original.png".into(),
        content_type: "image/png".into(),
        max_bytes: 10,
        expires_in: Duration::from_secs(300),
    }
}

async fn form(blobs: &LocalBlobs) -> anyhow::Result<BTreeMap<String, String>> {
    Ok(blobs.presign_upload(&policy()).await?.fields)
}

#[tokio::test]
async fn a_valid_form_stores_the_file_under_its_key() -> anyhow::Result<()> {
    let f = fixture()?;
    let post = f.blobs.presign_upload(&policy()).await?;
    assert_eq!(post.url, "http://127.0.0.1:1/_local/blobs");
    assert_eq!(
        f.blobs
            .accept_upload(&post.fields, b"0123456789".to_vec())
            .await?,
        policy().key
    );
    let blob = f.blobs.get(&policy().key).await?;
    assert_eq!(
        blob.map(|b| (b.bytes, b.content_type)),
        Some((b"0123456789".to_vec(), "image/png".into()))
    );
    Ok(())
}

#[tokio::test]
async fn a_form_with_a_forged_signature_is_rejected() -> anyhow::Result<()> {
    let f = fixture()?;
    let mut fields = form(&f.blobs).await?;
    let other = LocalBlobs::new(f.blobs.dir.clone(), String::new(), [8; 32], f.clock.clone());
    fields.insert(
        SIGNATURE_FIELD.into(),
        form(&other).await?[SIGNATURE_FIELD].clone(),
    );
    assert!(matches!(
        f.blobs.accept_upload(&fields, vec![1]).await,
        Err(UploadRejected::BadSignature)
    ));
    fields.insert(SIGNATURE_FIELD.into(), "not hex".into());
    assert!(matches!(
        f.blobs.accept_upload(&fields, vec![1]).await,
        Err(UploadRejected::BadSignature)
    ));
    fields.remove(SIGNATURE_FIELD);
    assert!(matches!(
        f.blobs.accept_upload(&fields, vec![1]).await,
        Err(UploadRejected::MissingField(_))
    ));
    Ok(())
}

#[tokio::test]
async fn an_expired_form_is_rejected() -> anyhow::Result<()> {
    let f = fixture()?;
    let fields = form(&f.blobs).await?;
    f.clock.advance(TimeDelta::seconds(300));
    assert!(matches!(
        f.blobs.accept_upload(&fields, vec![1]).await,
        Err(UploadRejected::Expired)
    ));
    Ok(())
}

#[tokio::test]
async fn a_changed_key_or_content_type_is_rejected() -> anyhow::Result<()> {
    let f = fixture()?;
    for (name, value) in [
        ("Content-Type", "text/html"),
        ("key", "avatars/u2/original.png"),
    ] {
        let mut fields = form(&f.blobs).await?;
        fields.insert(name.into(), value.into());
        let rejected = f.blobs.accept_upload(&fields, vec![1]).await;
        assert!(
            matches!(&rejected, Err(UploadRejected::ConditionFailed(field)) if field == name),
            "{rejected:?}"
        );
    }
    let mut fields = form(&f.blobs).await?;
    fields.insert("acl".into(), "public-read".into());
    assert!(matches!(
        f.blobs.accept_upload(&fields, vec![1]).await,
        Err(UploadRejected::FieldNotAllowed(_))
    ));
    assert_eq!(f.blobs.get(&policy().key).await?, None);
    Ok(())
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_rejected() -> anyhow::Result<()> {
    let f = fixture()?;
    let fields = form(&f.blobs).await?;
    let rejected = f.blobs.accept_upload(&fields, vec![0; 11]).await;
    assert!(
        matches!(
            rejected,
            Err(UploadRejected::SizeOutOfRange {
                size: 11,
                min: 0,
                max: 10
            })
        ),
        "{rejected:?}"
    );
    assert_eq!(f.blobs.get(&policy().key).await?, None);
    Ok(())
}

fn query(url: &str) -> Option<(i64, String)> {
    let (_, query) = url.split_once('?')?;
    let (expires, signature) = query.strip_prefix("expires=")?.split_once("&signature=")?;
    Some((expires.parse().ok()?, signature.to_owned()))
}

#[tokio::test]
async fn a_download_needs_a_valid_unexpired_signature_for_its_key() -> anyhow::Result<()> {
    let f = fixture()?;
    f.blobs.put("a/b.txt", b"hi".to_vec(), "text/plain").await?;
    f.blobs
        .put("a/c.txt", b"other".to_vec(), "text/plain")
        .await?;
    let url = f
        .blobs
        .presign_download("a/b.txt", Duration::from_secs(60))
        .await?;
    assert!(
        url.starts_with("http://127.0.0.1:1/_local/blobs/a/b.txt?"),
        "{url}"
    );
    let (expires, signature) = query(&url).ok_or_else(|| anyhow::anyhow!("no query in {url}"))?;

    assert_eq!(
        f.blobs
            .download("a/b.txt", expires, &signature)
            .await?
            .bytes,
        b"hi"
    );
    let wrong_key = f.blobs.download("a/c.txt", expires, &signature).await;
    assert!(matches!(wrong_key, Err(DownloadRejected::BadSignature)));
    let longer = f
        .blobs
        .download("a/b.txt", expires + 3600, &signature)
        .await;
    assert!(matches!(longer, Err(DownloadRejected::BadSignature)));
    f.clock.advance(TimeDelta::seconds(60));
    assert!(matches!(
        f.blobs.download("a/b.txt", expires, &signature).await,
        Err(DownloadRejected::Expired)
    ));
    Ok(())
}

#[tokio::test]
async fn a_key_and_a_key_below_it_coexist() -> anyhow::Result<()> {
    let f = fixture()?;
    f.blobs.put("a", b"1".to_vec(), "text/plain").await?;
    f.blobs.put("a/b", b"2".to_vec(), "text/plain").await?;
    assert_eq!(
        f.blobs.get("a").await?.map(|b| b.bytes),
        Some(b"1".to_vec())
    );
    assert_eq!(
        f.blobs.get("a/b").await?.map(|b| b.bytes),
        Some(b"2".to_vec())
    );
    assert!(
        f.blobs
            .put("a", vec![], "text/plain\nX-Injected: 1")
            .await
            .is_err()
    );
    Ok(())
}

/// A queue that records what it is sent, or fails every send while `down`.
#[derive(Debug, Default)]
struct Announcements {
    sent: std::sync::Mutex<Vec<String>>,
    down: bool,
}

#[async_trait::async_trait]
impl Queue for Announcements {
    async fn send(&self, body: &str, _delay: Duration) -> Result<String, QueueError> {
        if self.down {
            return Err(QueueError::Unexpected(anyhow::anyhow!("the queue is down")));
        }
        self.sent.lock().unwrap().push(body.to_owned());
        Ok("m-1".into())
    }

    async fn receive(
        &self,
        _max: usize,
        _visibility: Duration,
        _wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        Ok(Vec::new())
    }

    async fn delete(&self, _receipt: &str) -> Result<(), QueueError> {
        Ok(())
    }

    async fn set_visibility(&self, _receipt: &str, _timeout: Duration) -> Result<(), QueueError> {
        Ok(())
    }
}

#[tokio::test]
async fn an_upload_stored_by_a_process_killed_before_announcing_it_is_announced_at_start()
-> anyhow::Result<()> {
    let f = fixture()?;
    let blobs_at = |queue: Arc<Announcements>| {
        LocalBlobs::new(
            f._dir.path().join("blobs"),
            "http://127.0.0.1:1/".into(),
            [7; 32],
            f.clock.clone(),
        )
        .notifying(queue)
    };
    // The blob is stored and the announcement never reaches the queue, as when the process
    // dies between the two.
    let dying = blobs_at(Arc::new(Announcements {
        down: true,
        ..Announcements::default()
    }));
    let post = dying.presign_upload(&policy()).await?;
    assert!(
        dying
            .accept_upload(&post.fields, b"0123456789".to_vec())
            .await
            .is_err()
    );
    assert!(dying.get(&policy().key).await?.is_some());

    let queue = Arc::new(Announcements::default());
    let restarted = blobs_at(queue.clone());
    assert_eq!(restarted.announce_pending().await?, 1);
    let sent = queue.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains(&policy().key), "{}", sent[0]);
    assert_eq!(restarted.announce_pending().await?, 0, "announced once");

    // An upload that was announced leaves nothing to announce again.
    let other = UploadPolicy {
        key: "avatars/u1/second.png".into(),
        ..policy()
    };
    let post = restarted.presign_upload(&other).await?;
    restarted
        .accept_upload(&post.fields, b"0123".to_vec())
        .await?;
    assert_eq!(restarted.announce_pending().await?, 0);
    assert_eq!(queue.sent.lock().unwrap().len(), 2);
    Ok(())
}
