//! The blob store on S3: objects in one bucket, uploads in parts and presigned GET downloads;
//! and, apart, the bucket's presigned POST upload forms ([`S3Forms`]), which need no S3 client.

mod forms;
mod post_policy;

use std::time::{Duration, SystemTime};

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use shared::blob::{Blob, BlobError, BlobStore, Part, UploadId, check_key};
use shared::clock::Clock;
use std::sync::Arc;

pub use self::forms::S3Forms;

/// The blob store on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
    /// Presigned URLs start at its time.
    clock: Arc<dyn Clock>,
}

impl S3Blobs {
    /// Give a client pointed at an emulator `force_path_style(true)`, so its presigned GETs
    /// take the path style the bucket's [`S3Forms`] take there.
    pub fn new(client: Client, bucket: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            clock,
        }
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn presign_download(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        check_key(key)?;
        let config = PresigningConfig::builder()
            .start_time(SystemTime::from(self.clock.now()))
            .expires_in(expires_in)
            .build()
            .context("presigning a download")?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .context("presigning a download")?;
        Ok(request.uri().to_owned())
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        check_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .context("storing a blob")?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        check_key(key)?;
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None);
            }
            Err(err) => return Err(anyhow::Error::new(err).context("reading a blob").into()),
        };
        let content_type = output
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let bytes = output
            .body
            .collect()
            .await
            .context("reading a blob's body")?;
        Ok(Some(Blob {
            bytes: bytes.into_bytes().to_vec(),
            content_type,
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .context("deleting a blob")?;
        Ok(())
    }

    async fn start_upload(&self, key: &str, content_type: &str) -> Result<UploadId, BlobError> {
        check_key(key)?;
        let output = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .context("starting an upload in parts")?;
        let id = output
            .upload_id()
            .context("S3 started an upload without an id")?;
        Ok(UploadId(id.to_owned()))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        bytes: Vec<u8>,
    ) -> Result<Part, BlobError> {
        check_key(key)?;
        let output = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(&upload.0)
            .part_number(i32::try_from(number).context("a part number over i32")?)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .with_context(|| format!("uploading part {number}"))?;
        let tag = output.e_tag().context("S3 stored a part without an ETag")?;
        Ok(Part {
            number,
            tag: tag.to_owned(),
        })
    }

    async fn finish_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: Vec<Part>,
    ) -> Result<(), BlobError> {
        check_key(key)?;
        let mut completed = Vec::with_capacity(parts.len());
        for part in parts {
            completed.push(
                CompletedPart::builder()
                    .part_number(i32::try_from(part.number).context("a part number over i32")?)
                    .e_tag(part.tag)
                    .build(),
            );
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(&upload.0)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .context("finishing an upload in parts")?;
        Ok(())
    }

    async fn abort_upload(&self, key: &str, upload: &UploadId) -> Result<(), BlobError> {
        check_key(key)?;
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(&upload.0)
            .send()
            .await
            .context("aborting an upload in parts")?;
        Ok(())
    }
}
