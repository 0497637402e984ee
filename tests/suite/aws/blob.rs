//! The S3 blob store, presigned POST uploads and GET downloads included.

use std::time::Duration;

use shared::blob::{BlobError, BlobStore, UploadPolicy};
use tests::moto::moto;
use tests::provision;

#[tokio::test]
async fn a_blob_reads_back_until_deleted() -> anyhow::Result<()> {
    let blobs = provision::blobs(moto().await?).await?;
    assert_eq!(blobs.get("a/b.txt").await?, None);
    blobs
        .put("a/b.txt", b"hello".to_vec(), "text/plain")
        .await?;
    let blob = blobs.get("a/b.txt").await?;
    assert_eq!(
        blob.map(|b| (b.bytes, b.content_type)),
        Some((b"hello".to_vec(), "text/plain".to_owned()))
    );
    blobs.delete("a/b.txt").await?;
    assert_eq!(blobs.get("a/b.txt").await?, None);
    blobs.delete("a/b.txt").await?;
    Ok(())
}

#[tokio::test]
async fn an_invalid_key_is_refused() -> anyhow::Result<()> {
    let blobs = provision::blobs(moto().await?).await?;
    let result = blobs.put("../escape", vec![], "text/plain").await;
    assert!(
        matches!(result, Err(BlobError::InvalidKey(_))),
        "{result:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_presigned_post_uploads_a_file() -> anyhow::Result<()> {
    let moto = moto().await?;
    let blobs = provision::blobs(moto).await?;
    let policy = UploadPolicy {
        key: "avatars/u1/original.png".into(),
        content_type: "image/png".into(),
        max_bytes: 1024,
        expires_in: Duration::from_secs(300),
    };
    let post = blobs.presign_upload(&policy).await?;
    assert!(post.url.starts_with(moto.endpoint()), "{}", post.url);
    assert_eq!(post.fields.get("key"), Some(&policy.key));
    for field in [
        "policy",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-algorithm",
    ] {
        assert!(
            post.fields.contains_key(field),
            "{field} missing from {:?}",
            post.fields.keys()
        );
    }

    let mut form = reqwest::multipart::Form::new();
    for (name, value) in &post.fields {
        form = form.text(name.clone(), value.clone());
    }
    let png = b"\x89PNG\r\n\x1a\nnot really".to_vec();
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(png.clone())
            .file_name("a.png")
            .mime_str("image/png")?,
    );
    let response = reqwest::Client::new()
        .post(&post.url)
        .multipart(form)
        .send()
        .await?;
    assert!(
        response.status().is_success(),
        "{}: {}",
        response.status(),
        response.text().await?
    );

    let stored = blobs.get(&policy.key).await?;
    assert_eq!(
        stored.map(|b| (b.bytes, b.content_type)),
        Some((png, "image/png".to_owned()))
    );
    Ok(())
}

#[tokio::test]
async fn a_presigned_get_downloads_the_blob() -> anyhow::Result<()> {
    let blobs = provision::blobs(moto().await?).await?;
    blobs
        .put("docs/report.pdf", b"%PDF-1.7".to_vec(), "application/pdf")
        .await?;
    let url = blobs
        .presign_download("docs/report.pdf", Duration::from_secs(60))
        .await?;
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let response = reqwest::get(&url).await?;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(response.bytes().await?.as_ref(), b"%PDF-1.7");
    Ok(())
}
