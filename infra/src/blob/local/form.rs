//! The presigned-POST form: an S3-style policy document, signed by the store's key, and its
//! verification at upload.
//!
//! The policy is S3's: `{"expiration": RFC 3339, "conditions": [...]}` in base64, where a
//! condition is `{"field": "value"}` or `["eq", "$field", "value"]` (exact match),
//! `["starts-with", "$field", "prefix"]`, or `["content-length-range", min, max]`. As on S3,
//! every form field must be named by a condition, so nothing unsigned rides along.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::blob::{BlobError, PresignedPost, UploadForms, UploadPolicy, check_key};

use super::{LocalBlobs, ROUTE, check_content_type, expiry};

/// The form field holding the HMAC-SHA256 (hex) of the base64 policy.
pub const SIGNATURE_FIELD: &str = "x-local-signature";

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadRejected {
    #[error("the form has no {0} field")]
    MissingField(&'static str),
    #[error("the form's signature does not match its policy")]
    BadSignature,
    #[error("the policy is malformed: {0}")]
    MalformedPolicy(String),
    #[error("the policy expired")]
    Expired,
    #[error("the form field {0:?} does not satisfy the policy")]
    ConditionFailed(String),
    #[error("the form field {0:?} is not covered by the policy")]
    FieldNotAllowed(String),
    #[error("the file is {size} bytes, outside the policy's range {min}..={max}")]
    SizeOutOfRange { size: u64, min: u64, max: u64 },
    #[error("invalid blob key")]
    InvalidKey,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl UploadRejected {
    /// A stable, machine-readable name of the reason.
    pub fn reason(&self) -> &'static str {
        match self {
            UploadRejected::MissingField(_) => "missing_field",
            UploadRejected::BadSignature => "bad_signature",
            UploadRejected::MalformedPolicy(_) => "malformed_policy",
            UploadRejected::Expired => "expired",
            UploadRejected::ConditionFailed(_) => "condition_failed",
            UploadRejected::FieldNotAllowed(_) => "field_not_allowed",
            UploadRejected::SizeOutOfRange { .. } => "size_out_of_range",
            UploadRejected::InvalidKey => "invalid_key",
            UploadRejected::Unexpected(_) => "internal",
        }
    }
}

/// An upload the form allows.
pub(super) struct Upload {
    pub key: String,
    pub content_type: String,
}

#[async_trait]
impl UploadForms for LocalBlobs {
    async fn presign_upload(&self, policy: &UploadPolicy) -> Result<PresignedPost, BlobError> {
        check_key(&policy.key)?;
        check_content_type(&policy.content_type)?;
        let expires_at = expiry(self.clock.now(), policy.expires_in)?;
        let encoded = encode_policy(policy, expires_at);
        let signature = self.sign(encoded.as_bytes());
        let fields = BTreeMap::from([
            ("key".to_owned(), policy.key.clone()),
            ("Content-Type".to_owned(), policy.content_type.clone()),
            ("policy".to_owned(), encoded),
            (SIGNATURE_FIELD.to_owned(), signature),
        ]);
        Ok(PresignedPost {
            url: format!("{}{ROUTE}", self.base_url),
            fields,
            expires_at,
        })
    }
}

/// The base64 policy that pins the policy's key, content type and size.
fn encode_policy(policy: &UploadPolicy, expires_at: DateTime<Utc>) -> String {
    let document = json!({
        "expiration": expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "conditions": [
            {"key": policy.key},
            {"Content-Type": policy.content_type},
            ["content-length-range", 0, policy.max_bytes],
        ],
    });
    STANDARD.encode(document.to_string())
}

#[derive(Deserialize)]
struct Document {
    expiration: String,
    conditions: Vec<Value>,
}

/// Fields that carry the form's authentication rather than data.
const AUTH_FIELDS: &[&str] = &["policy", SIGNATURE_FIELD];

pub(super) fn verify(
    fields: &BTreeMap<String, String>,
    size: usize,
    now: DateTime<Utc>,
    signed: impl Fn(&str, &str) -> bool,
) -> Result<Upload, UploadRejected> {
    let field = |name: &'static str| fields.get(name).ok_or(UploadRejected::MissingField(name));
    let (policy, signature) = (field("policy")?, field(SIGNATURE_FIELD)?);
    if !signed(policy, signature) {
        return Err(UploadRejected::BadSignature);
    }
    let malformed = |why: &str| UploadRejected::MalformedPolicy(why.to_owned());
    let json = STANDARD
        .decode(policy)
        .map_err(|_| malformed("not base64"))?;
    let document: Document =
        serde_json::from_slice(&json).map_err(|e| malformed(&e.to_string()))?;
    let expiration = DateTime::parse_from_rfc3339(&document.expiration)
        .map_err(|_| malformed("bad expiration"))?;
    if expiration <= now {
        return Err(UploadRejected::Expired);
    }

    let mut covered = BTreeSet::new();
    let mut range = None;
    let mut test = |name: &str, holds: &dyn Fn(&str) -> bool| {
        covered.insert(name.to_owned());
        match fields.get(name) {
            Some(value) if holds(value) => Ok(()),
            _ => Err(UploadRejected::ConditionFailed(name.to_owned())),
        }
    };
    for condition in &document.conditions {
        match condition {
            Value::Object(map) if map.len() == 1 => {
                let Some((name, Value::String(expected))) = map.iter().next() else {
                    return Err(malformed("an exact-match condition needs a string value"));
                };
                test(name, &|value| value == expected)?;
            }
            Value::Array(parts) => match parts.as_slice() {
                [
                    Value::String(op),
                    Value::String(name),
                    Value::String(expected),
                ] if name.starts_with('$') => {
                    let name = &name[1..];
                    match op.as_str() {
                        "eq" => test(name, &|value| value == expected)?,
                        "starts-with" => test(name, &|value| value.starts_with(expected.as_str()))?,
                        _ => return Err(malformed("unknown condition")),
                    }
                }
                [Value::String(op), min, max] if op == "content-length-range" => {
                    range = Some(
                        min.as_u64()
                            .zip(max.as_u64())
                            .ok_or_else(|| malformed("bad length range"))?,
                    );
                }
                _ => return Err(malformed("unknown condition")),
            },
            _ => return Err(malformed("unknown condition")),
        }
    }
    if let Some(name) = fields
        .keys()
        .find(|n| !AUTH_FIELDS.contains(&n.as_str()) && !covered.contains(*n))
    {
        return Err(UploadRejected::FieldNotAllowed(name.clone()));
    }
    let size = u64::try_from(size).unwrap_or(u64::MAX);
    if let Some((min, max)) = range.filter(|&(min, max)| size < min || size > max) {
        return Err(UploadRejected::SizeOutOfRange { size, min, max });
    }
    let key = field("key")?.clone();
    check_key(&key).map_err(|_| UploadRejected::InvalidKey)?;
    let content_type = field("Content-Type")?.clone();
    Ok(Upload { key, content_type })
}
