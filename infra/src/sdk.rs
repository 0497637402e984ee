//! The AWS SDK configuration of a function, read from the environment Lambda gives it.
//!
//! Lambda hands every function its region and its role's credentials as environment variables
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
//! aws-config's default chain finds them there too, but only after building the profile, SSO,
//! STS, web-identity and instance-metadata providers a function never uses, and linking them
//! all into every binary; this reads the variables directly. `AWS_ENDPOINT_URL` points every
//! client at an emulator, as aws-config would.
//!
//! Every client shares one HTTP client of our own ([`http1`]): HTTP/1.1 over rustls on ring,
//! trusting the system's roots, read on the first TLS connection, so init reads no certificate
//! (the smithy client read and parsed the whole store as each SDK client was built).

use anyhow::Context;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::sdk_config::SharedHttpClient;

pub use aws_types::SdkConfig as Config;

mod http1;

// Every client shares the SDK's one behaviour version; any service crate re-exports it.
use aws_sdk_dynamodb::config::BehaviorVersion;

/// The configuration of a function on Lambda, from its environment.
pub fn from_env() -> anyhow::Result<SdkConfig> {
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .context("AWS_REGION is not set (Lambda sets it; set it to run a function elsewhere)")?;
    let key = std::env::var("AWS_ACCESS_KEY_ID").context("AWS_ACCESS_KEY_ID is not set")?;
    let secret =
        std::env::var("AWS_SECRET_ACCESS_KEY").context("AWS_SECRET_ACCESS_KEY is not set")?;
    let session_token = std::env::var("AWS_SESSION_TOKEN").ok();
    let credentials = Credentials::new(key, secret, session_token, None, "environment");
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|url| !url.is_empty());
    Ok(config(&region, credentials, endpoint.as_deref()))
}

/// A configuration for `region` with fixed `credentials`, every service at `endpoint` when one
/// is given (an emulator), over the shared HTTPS client.
pub fn config(region: &str, credentials: Credentials, endpoint: Option<&str>) -> SdkConfig {
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client());
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
}

fn https_client() -> SharedHttpClient {
    SharedHttpClient::new(http1::Http1Client::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_names_its_region_endpoint_and_client() {
        let credentials = Credentials::new("id", "secret", None, None, "test");
        let config = config("eu-west-1", credentials, Some("http://127.0.0.1:5000"));
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(config.http_client().is_some());
        assert!(config.credentials_provider().is_some());
    }
}
