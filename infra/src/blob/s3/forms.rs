//! Upload forms for the bucket: S3's presigned POST, signed here from the function's
//! credentials and region. No S3 API call, and no S3 client: what hands out forms links none
//! of the S3 SDK.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use chrono::TimeDelta;
use shared::blob::{BlobError, PresignedPost, UploadForms, UploadPolicy, check_key};
use shared::clock::Clock;

use super::post_policy::{PostPolicy, Signer};

/// Signs POST forms that upload into one bucket.
#[derive(Debug, Clone)]
pub struct S3Forms {
    bucket: String,
    /// Resolved for every form: on Lambda the credentials rotate.
    credentials: Option<SharedCredentialsProvider>,
    region: Option<String>,
    /// Where the forms go.
    url: String,
    clock: Arc<dyn Clock>,
}

impl S3Forms {
    /// Forms signed with `sdk`'s credentials for its region, sent to the bucket's
    /// virtual-hosted endpoint, or to `{endpoint_url}/{bucket}` (path style) when the
    /// configuration overrides the endpoint, as emulators need.
    pub fn new(sdk: &crate::sdk::Config, bucket: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        let bucket = bucket.into();
        let region = sdk.region().map(|r| r.as_ref().to_owned());
        let url = match sdk.endpoint_url() {
            Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            None => format!(
                "https://{bucket}.s3.{}.amazonaws.com/",
                region.as_deref().unwrap_or("us-east-1")
            ),
        };
        Self {
            bucket,
            credentials: sdk.credentials_provider(),
            region,
            url,
            clock,
        }
    }
}

#[async_trait]
impl UploadForms for S3Forms {
    async fn presign_upload(&self, policy: &UploadPolicy) -> Result<PresignedPost, BlobError> {
        check_key(&policy.key)?;
        let provider = self
            .credentials
            .as_ref()
            .context("no AWS credentials to sign an upload form with")?;
        let credentials = provider
            .provide_credentials()
            .await
            .context("resolving AWS credentials")?;
        let region = self
            .region
            .as_deref()
            .context("no AWS region to sign an upload form for")?;
        let now = self.clock.now();
        let expires_at =
            now + TimeDelta::from_std(policy.expires_in).context("upload form lifetime")?;
        let fields = PostPolicy {
            bucket: &self.bucket,
            key: &policy.key,
            content_type: &policy.content_type,
            max_bytes: policy.max_bytes,
            now,
            expires_at,
            region,
        }
        .sign(&Signer {
            access_key_id: credentials.access_key_id(),
            secret_access_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
        });
        Ok(PresignedPost {
            url: self.url.clone(),
            fields,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;
    use chrono::DateTime;
    use shared::clock::ManualClock;

    use super::*;

    fn policy() -> UploadPolicy {
        UploadPolicy {
            key: "uploads/avatars/u1/a1".into(),
            content_type: "image/png".into(),
            max_bytes: 1024,
            expires_in: std::time::Duration::from_secs(600),
        }
    }

    fn forms(endpoint: Option<&str>) -> S3Forms {
        let credentials = Credentials::new("AKID", "secret", Some("tok".into()), None, "test");
        let sdk = crate::sdk::config("eu-west-1", credentials, endpoint);
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        S3Forms::new(&sdk, "bucket", Arc::new(ManualClock::new(now)))
    }

    #[tokio::test]
    async fn a_form_goes_to_the_bucket_signed_for_the_region_with_the_sessions_credentials() {
        let post = forms(None).presign_upload(&policy()).await.unwrap();
        assert_eq!(post.url, "https://bucket.s3.eu-west-1.amazonaws.com/");
        assert_eq!(
            post.fields["x-amz-credential"],
            "AKID/20231114/eu-west-1/s3/aws4_request"
        );
        assert_eq!(post.fields["x-amz-security-token"], "tok");
        assert_eq!(post.fields["key"], policy().key);
        assert_eq!(
            post.expires_at,
            DateTime::from_timestamp(1_700_000_600, 0).unwrap()
        );
    }

    #[tokio::test]
    async fn an_overridden_endpoint_takes_forms_by_path() {
        let post = forms(Some("http://127.0.0.1:5000/"))
            .presign_upload(&policy())
            .await
            .unwrap();
        assert_eq!(post.url, "http://127.0.0.1:5000/bucket");
    }

    #[tokio::test]
    async fn an_invalid_key_is_refused_before_signing() {
        let invalid = UploadPolicy {
            key: "../escape".into(),
            ..policy()
        };
        let refused = forms(None).presign_upload(&invalid).await;
        assert!(
            matches!(refused, Err(BlobError::InvalidKey(_))),
            "{refused:?}"
        );
    }
}
