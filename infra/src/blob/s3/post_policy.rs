//! Presigned POST forms: a policy document signed with SigV4, which the SDK does not offer.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What a POST form is signed for.
#[derive(Debug)]
pub(super) struct PostPolicy<'a> {
    pub(super) bucket: &'a str,
    pub(super) key: &'a str,
    pub(super) content_type: &'a str,
    pub(super) max_bytes: u64,
    pub(super) now: DateTime<Utc>,
    pub(super) expires_at: DateTime<Utc>,
    pub(super) region: &'a str,
}

/// The credentials a form is signed with.
pub(super) struct Signer<'a> {
    pub(super) access_key_id: &'a str,
    pub(super) secret_access_key: &'a str,
    pub(super) session_token: Option<&'a str>,
}

impl PostPolicy<'_> {
    /// The form fields, the signed policy among them.
    pub(super) fn sign(&self, signer: &Signer<'_>) -> BTreeMap<String, String> {
        let date = self.now.format("%Y%m%d").to_string();
        let amz_date = self.now.format("%Y%m%dT%H%M%SZ").to_string();
        let credential = format!(
            "{}/{date}/{}/s3/aws4_request",
            signer.access_key_id, self.region
        );

        let mut fields = BTreeMap::from([
            ("key".to_owned(), self.key.to_owned()),
            ("Content-Type".to_owned(), self.content_type.to_owned()),
            ("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()),
            ("x-amz-credential".to_owned(), credential.clone()),
            ("x-amz-date".to_owned(), amz_date.clone()),
        ]);
        let mut conditions = vec![
            json!({"bucket": self.bucket}),
            json!({"key": self.key}),
            json!({"Content-Type": self.content_type}),
            json!(["content-length-range", 0, self.max_bytes]),
            json!({"x-amz-algorithm": ALGORITHM}),
            json!({"x-amz-credential": credential}),
            json!({"x-amz-date": amz_date}),
        ];
        if let Some(token) = signer.session_token {
            conditions.push(json!({"x-amz-security-token": token}));
            fields.insert("x-amz-security-token".to_owned(), token.to_owned());
        }
        let policy = json!({
            "expiration": self.expires_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "conditions": conditions,
        });
        let policy = STANDARD.encode(policy.to_string());
        let key = signing_key(signer.secret_access_key, &date, self.region, "s3");
        let signature = hex::encode(hmac(&key, policy.as_bytes()));
        fields.insert("policy".to_owned(), policy);
        fields.insert("x-amz-signature".to_owned(), signature);
        fields
    }
}

/// SigV4's signing key: the secret, narrowed by date, region and service.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let key = hmac(&key, region.as_bytes());
    let key = hmac(&key, service.as_bytes());
    hmac(&key, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of every length, so keying cannot fail.
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_signing_key_matches_the_sigv4_reference_example() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    fn policy() -> PostPolicy<'static> {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        PostPolicy {
            bucket: "uploads",
            key: "avatars/u1/original.png",
            content_type: "image/png",
            max_bytes: 1_048_576,
            now,
            expires_at: now + chrono::TimeDelta::minutes(10),
            region: "eu-west-1",
        }
    }

    #[test]
    fn the_policy_pins_the_key_type_size_and_credentials() {
        let signer = Signer {
            access_key_id: "AKID",
            secret_access_key: "secret",
            session_token: Some("tok"),
        };
        let fields = policy().sign(&signer);
        assert_eq!(
            fields["x-amz-credential"],
            "AKID/20231114/eu-west-1/s3/aws4_request"
        );
        assert_eq!(fields["x-amz-date"], "20231114T221320Z");
        assert_eq!(fields["x-amz-security-token"], "tok");
        let decoded = STANDARD.decode(&fields["policy"]).unwrap();
        let document: Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(document["expiration"], "2023-11-14T22:23:20.000Z");
        let conditions = document["conditions"].as_array().unwrap();
        for expected in [
            json!({"bucket": "uploads"}),
            json!({"key": "avatars/u1/original.png"}),
            json!({"Content-Type": "image/png"}),
            json!(["content-length-range", 0, 1_048_576]),
            json!({"x-amz-security-token": "tok"}),
        ] {
            assert!(
                conditions.contains(&expected),
                "{expected} missing from {conditions:?}"
            );
        }
        let key = signing_key("secret", "20231114", "eu-west-1", "s3");
        assert_eq!(
            fields["x-amz-signature"],
            hex::encode(hmac(&key, fields["policy"].as_bytes()))
        );
    }

    #[test]
    fn without_a_session_token_the_form_has_none() {
        let signer = Signer {
            access_key_id: "AKID",
            secret_access_key: "secret",
            session_token: None,
        };
        let fields = policy().sign(&signer);
        assert!(!fields.contains_key("x-amz-security-token"));
        assert!(
            !String::from_utf8(STANDARD.decode(&fields["policy"]).unwrap())
                .unwrap()
                .contains("security-token")
        );
    }
}
