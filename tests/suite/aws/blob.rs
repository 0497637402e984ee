//! The S3 blob store: what is particular to S3 is how its forms and URLs are signed.

use std::time::Duration;

use shared::blob::{BlobStore, UploadForms, UploadPolicy};
use tests::moto::moto;
use tests::provision;

#[tokio::test]
async fn forms_and_download_urls_are_signed_with_sigv4_for_the_bucket() -> anyhow::Result<()> {
    let moto = moto().await?;
    let (blobs, forms) = provision::blobs(moto).await?;
    let policy = UploadPolicy {
        key: "avatars/u1/original.png".into(),
        content_type: "image/png".into(),
        max_bytes: 1024,
        expires_in: Duration::from_secs(300),
    };
    let post = forms.presign_upload(&policy).await?;
    assert!(post.url.starts_with(moto.endpoint()), "{}", post.url);
    assert_eq!(
        post.fields.get("x-amz-algorithm").map(String::as_str),
        Some("AWS4-HMAC-SHA256")
    );
    for field in [
        "policy",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-date",
    ] {
        assert!(
            post.fields.contains_key(field),
            "{field} missing from {:?}",
            post.fields.keys()
        );
    }
    let credential = post.fields.get("x-amz-credential").cloned().unwrap();
    assert!(
        credential.ends_with("/us-east-1/s3/aws4_request"),
        "{credential}"
    );

    let url = blobs
        .presign_download(&policy.key, Duration::from_secs(60))
        .await?;
    assert!(url.starts_with(moto.endpoint()), "{url}");
    for parameter in [
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Signature=",
        "X-Amz-Expires=60",
    ] {
        assert!(url.contains(parameter), "{parameter} missing from {url}");
    }
    Ok(())
}
