//! A JSON body extractor whose every rejection is one of our problems.
//!
//! axum's own `Json` answers 415, 422 and 400 with plain-text bodies. This one requires an
//! `application/json` body (415 otherwise), answers unparseable input with 400
//! `malformed_json`, and input of the wrong shape with 400 `validation_failed` naming the field.
//! Success responses still use [`axum::Json`].

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::http::problem::{ApiError, FieldError};

/// The deserialized JSON body of a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest {
                    code: "unreadable_body",
                    detail: rejection.body_text(),
                }
            }
        })?;
        parse(&bytes).map(Json)
    }
}

/// Whether a Content-Type names JSON: `application/json` or `application/<anything>+json`,
/// with any parameters.
fn is_json(content_type: Option<&http::HeaderValue>) -> bool {
    let Some(essence) = content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
    else {
        return false;
    };
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// Parses a body, telling broken JSON apart from JSON of the wrong shape.
///
/// Every body of the API is an object. serde reads a struct from an array too, its fields in
/// declaration order (`["a@b.c", "Ada", "pass phrase"]` would register an account), so an
/// array is refused before it gets the chance.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.trim_ascii_start().first() == Some(&b'[') {
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
            .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
        return Err(ApiError::Validation(vec![FieldError::new(
            "",
            "invalid type: array, expected an object",
        )]));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = without_position(&inner.to_string());
                let field = if path == "." {
                    named_field(&message).unwrap_or_default()
                } else {
                    path
                };
                ApiError::Validation(vec![FieldError::new(field, message)])
            }
            _ => ApiError::MalformedJson(inner.to_string()),
        }
    })?;
    // Trailing characters after the value make the whole body malformed.
    deserializer
        .end()
        .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    Ok(value)
}

/// serde_json appends " at line L column C" to data errors; the field path says more.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// The field a root-level error is about: serde reports missing and unknown fields at the
/// object that lacks or has them, naming the field in backticks.
fn named_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Signup {
        email: String,
        age: Option<u8>,
    }

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/");
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(Body::from(body.to_owned())).unwrap()
    }

    async fn extract(content_type: Option<&str>, body: &str) -> Result<Signup, ApiError> {
        Json::<Signup>::from_request(request(content_type, body), &())
            .await
            .map(|Json(v)| v)
    }

    #[tokio::test]
    async fn a_well_formed_body_is_extracted() {
        let signup = extract(
            Some("application/json; charset=utf-8"),
            r#"{"email":"a@b.c"}"#,
        )
        .await;
        assert_eq!(
            signup.ok(),
            Some(Signup {
                email: "a@b.c".into(),
                age: None
            })
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_unsupported() {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let error = extract(content_type, r#"{"email":"a@b.c"}"#).await;
            assert!(
                matches!(error, Err(ApiError::UnsupportedMediaType)),
                "{content_type:?}: {error:?}"
            );
        }
    }

    #[tokio::test]
    async fn broken_json_is_malformed() {
        for body in ["", "{", r#"{"email":}"#, r#"{"email":"a"} trailing"#] {
            let error = extract(Some("application/json"), body).await;
            assert!(
                matches!(error, Err(ApiError::MalformedJson(_))),
                "{body:?}: {error:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_wrongly_typed_field_is_named() {
        let error = extract(Some("application/json"), r#"{"email":"a@b.c","age":"old"}"#).await;
        let Err(ApiError::Validation(fields)) = error else {
            panic!("{error:?}")
        };
        assert_eq!(fields[0].field, "age");
        assert!(
            fields[0].message.contains("invalid type"),
            "{}",
            fields[0].message
        );
        assert!(!fields[0].message.contains("line"), "{}", fields[0].message);
    }

    #[tokio::test]
    async fn an_array_was_read_as_an_object_field_by_field() {
        for body in [r#"["a@b.c", 7]"#, "[]", " \n[\"a@b.c\"]"] {
            let error = extract(Some("application/json"), body).await;
            let Err(ApiError::Validation(fields)) = error else {
                panic!("{body}: {error:?}")
            };
            assert!(fields[0].message.contains("array"), "{}", fields[0].message);
        }
        let broken = extract(Some("application/json"), "[1,").await;
        assert!(
            matches!(broken, Err(ApiError::MalformedJson(_))),
            "{broken:?}"
        );
    }

    #[tokio::test]
    async fn missing_and_unknown_fields_are_named() {
        let missing = extract(Some("application/json"), r#"{}"#).await;
        let Err(ApiError::Validation(fields)) = missing else {
            panic!("{missing:?}")
        };
        assert_eq!(fields[0].field, "email");

        let unknown = extract(
            Some("application/vnd.api+json"),
            r#"{"email":"a","admin":true}"#,
        )
        .await;
        let Err(ApiError::Validation(fields)) = unknown else {
            panic!("{unknown:?}")
        };
        assert_eq!(fields[0].field, "admin");
    }
}
