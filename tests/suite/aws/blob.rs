//! The S3 blob store: what is particular to S3 is how its forms and URLs are signed, and the
//! checksums the SDK sends and checks (computed by `infra/crc-fast`).

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
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

/// The catalogue's check input, and its CRCs as S3 writes them (big-endian, base64): CRC-32
/// 0xCBF43926, CRC-32C 0xE3069283, CRC-64/NVME 0xAE8B14860A799888.
const CHECK: &[u8] = b"123456789";
const CHECKSUMS: [(ChecksumAlgorithm, &str); 3] = [
    (ChecksumAlgorithm::Crc32, "y/Q5Jg=="),
    (ChecksumAlgorithm::Crc32C, "4waSgw=="),
    (ChecksumAlgorithm::Crc64Nvme, "rosUhgp5mIg="),
];

/// The checksum of `algorithm` among an object's, as a put's or a get's output carries them.
fn checksum_of<'a>(
    algorithm: &ChecksumAlgorithm,
    crc32: Option<&'a str>,
    crc32c: Option<&'a str>,
    crc64nvme: Option<&'a str>,
) -> Option<&'a str> {
    match algorithm {
        ChecksumAlgorithm::Crc32 => crc32,
        ChecksumAlgorithm::Crc32C => crc32c,
        ChecksumAlgorithm::Crc64Nvme => crc64nvme,
        _ => None,
    }
}

#[tokio::test]
async fn each_crc_s3_offers_is_sent_with_a_put_and_checked_on_a_get() -> anyhow::Result<()> {
    let moto = moto().await?;
    let bucket = provision::bucket(moto).await?;
    let s3 = provision::s3_client(moto);
    for (algorithm, expected) in CHECKSUMS {
        let key = format!("checksums/{algorithm}");
        let put = s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from_static(CHECK))
            .send()
            .await?;
        // The emulator keeps and echoes the checksum the SDK computed.
        let sent = checksum_of(
            &algorithm,
            put.checksum_crc32(),
            put.checksum_crc32_c(),
            put.checksum_crc64_nvme(),
        );
        assert_eq!(sent, Some(expected), "{algorithm} sent with the put");

        let got = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await?;
        let returned = checksum_of(
            &algorithm,
            got.checksum_crc32(),
            got.checksum_crc32_c(),
            got.checksum_crc64_nvme(),
        );
        assert_eq!(
            returned,
            Some(expected),
            "{algorithm} returned with the get"
        );
        let body = got.body.collect().await?.into_bytes();
        assert_eq!(&body[..], CHECK, "{algorithm}");
    }
    Ok(())
}

#[tokio::test]
async fn a_get_whose_bytes_do_not_match_their_checksum_fails() -> anyhow::Result<()> {
    let moto = moto().await?;
    let bucket = provision::bucket(moto).await?;
    let s3 = provision::s3_client(moto);
    for (algorithm, of_check) in CHECKSUMS {
        let key = format!("checksums/{algorithm}");
        // The emulator stores a checksum given with a put without checking it, so the object
        // can carry one that its bytes do not have: CHECK's, over CHECK reversed.
        let put = s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_algorithm(algorithm.clone());
        let put = match algorithm {
            ChecksumAlgorithm::Crc32 => put.checksum_crc32(of_check),
            ChecksumAlgorithm::Crc32C => put.checksum_crc32_c(of_check),
            ChecksumAlgorithm::Crc64Nvme => put.checksum_crc64_nvme(of_check),
            other => unreachable!("{other} is not in CHECKSUMS"),
        };
        put.body(ByteStream::from_static(b"987654321"))
            .send()
            .await?;

        let got = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await?;
        let err = got
            .body
            .collect()
            .await
            .expect_err("bytes that do not match their checksum were read");
        assert!(
            format!("{err:?}").contains("ChecksumMismatch"),
            "{algorithm}: {err:?}"
        );
    }
    Ok(())
}
