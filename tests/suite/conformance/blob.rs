//! The blob store's conformance cases, with its upload forms: a presigned upload through a
//! form and a presigned download over HTTP, get, put, delete.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use shared::blob::{
    BlobError, BlobStore, BlobWriter, MIN_PART_BYTES, PresignedPost, UploadForms, UploadPolicy,
};

use super::unique;

pub struct BlobCtx {
    pub blobs: Arc<dyn BlobStore>,
    /// The forms that upload into `blobs`.
    pub forms: Arc<dyn UploadForms>,
}

fn policy(max_bytes: u64) -> UploadPolicy {
    UploadPolicy {
        key: format!("conformance/{}/file.txt", unique("blob")),
        content_type: "text/plain".into(),
        max_bytes,
        expires_in: Duration::from_secs(300),
    }
}

/// Posts the form as a browser would: every field, then the file last.
async fn upload(
    post: &PresignedPost,
    file: &[u8],
    content_type: &str,
) -> anyhow::Result<reqwest::StatusCode> {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in &post.fields {
        form = form.text(name.clone(), value.clone());
    }
    let part = reqwest::multipart::Part::bytes(file.to_vec())
        .file_name("file.txt")
        .mime_str(content_type)?;
    let response = reqwest::Client::new()
        .post(&post.url)
        .multipart(form.part("file", part))
        .send()
        .await?;
    Ok(response.status())
}

pub async fn a_presigned_upload_stores_the_file(ctx: BlobCtx) -> anyhow::Result<()> {
    let policy = policy(1024);
    let post = ctx.forms.presign_upload(&policy).await?;
    let status = upload(&post, b"hello, blob", "text/plain").await?;
    assert!(status.is_success(), "upload answered {status}");
    let blob = ctx.blobs.get(&policy.key).await?;
    assert_eq!(
        blob.map(|b| (b.bytes, b.content_type)),
        Some((b"hello, blob".to_vec(), "text/plain".into()))
    );
    Ok(())
}

pub async fn the_upload_policy_pins_key_content_type_and_size(ctx: BlobCtx) -> anyhow::Result<()> {
    let policy = policy(4096);
    let post = ctx.forms.presign_upload(&policy).await?;
    assert_eq!(post.fields.get("key"), Some(&policy.key));
    assert_eq!(post.fields.get("Content-Type"), Some(&policy.content_type));
    let encoded = post
        .fields
        .get("policy")
        .ok_or_else(|| anyhow::anyhow!("the form has no policy"))?;
    let document: Value = serde_json::from_slice(&STANDARD.decode(encoded)?)?;
    let conditions = document["conditions"]
        .as_array()
        .expect("the policy lists its conditions");
    let pins = |name: &str, value: &str| {
        conditions.contains(&json!({ name: value }))
            || conditions.contains(&json!(["eq", format!("${name}"), value]))
    };
    assert!(pins("key", &policy.key), "{conditions:?}");
    assert!(pins("Content-Type", &policy.content_type), "{conditions:?}");
    let range = conditions.iter().find(|c| c[0] == "content-length-range");
    assert!(
        range.is_some_and(|r| r[1].as_u64().is_some_and(|min| min <= 1) && r[2] == 4096),
        "{conditions:?}"
    );
    let expiration = document["expiration"].as_str().expect("the policy expires");
    let expiration = chrono::DateTime::parse_from_rfc3339(expiration)?;
    assert!((expiration.timestamp() - post.expires_at.timestamp()).abs() <= 1);
    assert!(post.expires_at > chrono::Utc::now() + chrono::TimeDelta::seconds(240));
    Ok(())
}

pub async fn an_upload_outside_its_policy_is_refused(ctx: BlobCtx) -> anyhow::Result<()> {
    let policy = policy(16);
    let post = ctx.forms.presign_upload(&policy).await?;
    let other_key = format!("{}.other", policy.key);
    let with = |name: &str, value: &str| {
        let mut changed = post.clone();
        changed.fields.insert(name.to_owned(), value.to_owned());
        changed
    };
    // The policy re-encoded with a larger size limit, without a signature to match it.
    let widened = {
        let encoded = post.fields.get("policy").cloned().unwrap();
        let mut document: Value = serde_json::from_slice(&STANDARD.decode(encoded)?)?;
        for condition in document["conditions"].as_array_mut().into_iter().flatten() {
            if condition[0] == "content-length-range" {
                condition[2] = json!(1 << 20);
            }
        }
        STANDARD.encode(document.to_string())
    };
    let small: &[u8] = b"fits";
    let attempts = [
        ("a file over the size limit", post.clone(), vec![b'x'; 17]),
        ("another key", with("key", &other_key), small.to_vec()),
        (
            "another content type",
            with("Content-Type", "text/html"),
            small.to_vec(),
        ),
        ("a forged policy", with("policy", &widened), vec![b'x'; 17]),
    ];
    for (what, form, file) in attempts {
        let content_type = form.fields.get("Content-Type").cloned().unwrap();
        let status = upload(&form, &file, &content_type).await?;
        assert!(!status.is_success(), "{what}: the upload answered {status}");
    }
    assert_eq!(ctx.blobs.get(&policy.key).await?, None);
    assert_eq!(ctx.blobs.get(&other_key).await?, None);
    Ok(())
}

pub async fn a_presigned_download_url_fetches_the_bytes(ctx: BlobCtx) -> anyhow::Result<()> {
    let key = format!("conformance/{}/data.bin", unique("blob"));
    let bytes: Vec<u8> = (0..=255).collect();
    ctx.blobs
        .put(&key, bytes.clone(), "application/octet-stream")
        .await?;
    let url = ctx
        .blobs
        .presign_download(&key, Duration::from_secs(60))
        .await?;
    let response = reqwest::get(&url).await?;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.bytes().await?.to_vec(), bytes);
    Ok(())
}

pub async fn a_put_replaces_a_blob_and_a_deleted_blob_is_gone(ctx: BlobCtx) -> anyhow::Result<()> {
    let key = format!("conformance/{}/doc", unique("blob"));
    ctx.blobs.put(&key, b"one".to_vec(), "text/plain").await?;
    ctx.blobs
        .put(&key, b"{}".to_vec(), "application/json")
        .await?;
    let blob = ctx.blobs.get(&key).await?;
    assert_eq!(
        blob.map(|b| (b.bytes, b.content_type)),
        Some((b"{}".to_vec(), "application/json".into()))
    );
    ctx.blobs.delete(&key).await?;
    assert_eq!(ctx.blobs.get(&key).await?, None);
    ctx.blobs.delete(&key).await?;
    Ok(())
}

pub async fn a_missing_blob_is_none(ctx: BlobCtx) -> anyhow::Result<()> {
    assert_eq!(
        ctx.blobs
            .get(&format!("conformance/{}/nothing", unique("blob")))
            .await?,
        None
    );
    Ok(())
}

pub async fn an_invalid_key_is_refused(ctx: BlobCtx) -> anyhow::Result<()> {
    for key in ["../escape", "/absolute", "a//b", "with space"] {
        let invalid = |result: Result<(), BlobError>| {
            assert!(
                matches!(&result, Err(BlobError::InvalidKey(k)) if k == key),
                "{key:?}: {result:?}"
            );
        };
        invalid(ctx.blobs.put(key, b"x".to_vec(), "text/plain").await);
        invalid(ctx.blobs.get(key).await.map(drop));
        invalid(ctx.blobs.delete(key).await);
        let download = ctx.blobs.presign_download(key, Duration::from_secs(60));
        invalid(download.await.map(drop));
        let upload = UploadPolicy {
            key: key.to_owned(),
            ..policy(16)
        };
        invalid(ctx.forms.presign_upload(&upload).await.map(drop));
    }
    Ok(())
}

pub async fn a_blob_written_in_parts_appears_whole_once_finished(
    ctx: BlobCtx,
) -> anyhow::Result<()> {
    let key = format!("conformance/{}/export.csv", unique("blob"));
    let first: Vec<u8> = (0..MIN_PART_BYTES).map(|i| b'a' + (i % 26) as u8).collect();
    let mut writer = BlobWriter::start(ctx.blobs.as_ref(), &key, "text/csv").await?;
    writer.write(&first[..1000]).await?;
    writer.write(&first[1000..]).await?;
    writer.write(b"the last part").await?;
    assert_eq!(
        ctx.blobs.get(&key).await?,
        None,
        "visible before it is finished"
    );
    assert_eq!(writer.finish().await?, MIN_PART_BYTES as u64 + 13);
    let blob = ctx.blobs.get(&key).await?.expect("the finished blob");
    assert_eq!(blob.content_type, "text/csv");
    assert_eq!(blob.bytes.len(), MIN_PART_BYTES + 13);
    assert!(blob.bytes.starts_with(&first) && blob.bytes.ends_with(b"the last part"));

    let small = BlobWriter::start(ctx.blobs.as_ref(), &key, "text/csv").await?;
    small.finish().await?;
    assert_eq!(
        ctx.blobs.get(&key).await?.map(|b| b.bytes),
        Some(Vec::new())
    );

    let abandoned = format!("conformance/{}/abandoned", unique("blob"));
    let mut writer = BlobWriter::start(ctx.blobs.as_ref(), &abandoned, "text/csv").await?;
    writer.write(b"never finished").await?;
    writer.abort().await?;
    assert_eq!(ctx.blobs.get(&abandoned).await?, None);
    Ok(())
}

/// Instantiates every blob case for one implementation: `blob_suite!(local, factory)` where
/// `factory()` is an async fn returning `anyhow::Result<(BlobCtx, guard)>`. An implementation that
/// cannot show a case adds `except { case: "why" }` (see `instantiate!`).
macro_rules! blob_suite {
    ($name:ident, $factory:expr $(, except { $($skip:ident: $reason:literal),* $(,)? })?) => {
        mod $name {
            crate::conformance::instantiate!($factory; except { $($($skip: $reason),*)? };
                a_presigned_upload_stores_the_file,
                the_upload_policy_pins_key_content_type_and_size,
                an_upload_outside_its_policy_is_refused,
                a_presigned_download_url_fetches_the_bytes,
                a_put_replaces_a_blob_and_a_deleted_blob_is_gone,
                a_missing_blob_is_none,
                an_invalid_key_is_refused,
                a_blob_written_in_parts_appears_whole_once_finished,
            );
        }
    };
}
blob_suite!(local, crate::conformance::local::blob);
blob_suite!(
    aws,
    crate::conformance::aws::blob,
    except {
        an_upload_outside_its_policy_is_refused: "moto stores any POST upload: it checks neither the \
        form's signature nor its policy's conditions (key, Content-Type, content-length-range)",
    }
);
