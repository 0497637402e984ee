//! The local checks of forms and URLs; the round trips over HTTP are in the conformance suite.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta};
use shared::blob::{BlobStore, UploadPolicy};
use shared::clock::ManualClock;

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
