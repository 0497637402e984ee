//! The blob store's conformance cases: presigned upload and download over HTTP, get, put, delete.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use shared::blob::{BlobStore, PresignedPost, UploadPolicy};

use super::unique;

pub struct BlobCtx {
    pub blobs: Arc<dyn BlobStore>,
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
    let post = ctx.blobs.presign_upload(&policy).await?;
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
    let post = ctx.blobs.presign_upload(&policy).await?;
    assert_eq!(post.fields.get("key"), Some(&policy.key));
    assert_eq!(post.fields.get("Content-Type"), Some(&policy.content_type));
    let encoded = post
        .fields
        .get("policy")
        .ok_or_else(|| anyhow::anyhow!("the form has no policy"))?;
    let document: Value = serde_json::from_slice(&STANDARD.decode(encoded)?)?;
    let conditions = document["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
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
    let expiration = document["expiration"].as_str().unwrap_or_default();
    let expiration = chrono::DateTime::parse_from_rfc3339(expiration)?;
    assert!((expiration.timestamp() - post.expires_at.timestamp()).abs() <= 1);
    assert!(post.expires_at > chrono::Utc::now() + chrono::TimeDelta::seconds(240));
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

/// Instantiates every blob case for one implementation: `blob_suite!(local, factory)` where
/// `factory()` is an async fn returning `anyhow::Result<(BlobCtx, guard)>`.
macro_rules! blob_suite {
    ($name:ident, $factory:expr) => {
        mod $name {
            crate::conformance::instantiate!($factory;
                a_presigned_upload_stores_the_file,
                the_upload_policy_pins_key_content_type_and_size,
                a_presigned_download_url_fetches_the_bytes,
                a_put_replaces_a_blob_and_a_deleted_blob_is_gone,
                a_missing_blob_is_none,
            );
        }
    };
}
blob_suite!(local, crate::conformance::local::blob);
