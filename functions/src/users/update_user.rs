//! `PATCH /api/v1/users/{id}`: changes a user's name and phone (the user themself or a holder
//! of `users:update`) or status (`users:update` only). Only the fields named change; an unknown
//! field is refused. The write is conditional on the version read, so no concurrent change is
//! lost, and an `If-Match` naming another version than the user's is refused with 412.
//! Disabling ends the user's sessions and access tokens at once.

use axum::extract::{Path, State};
use axum::response::Response;
use http::HeaderMap;
use http::header::IF_MATCH;
use serde::{Deserialize, Deserializer};
use shared::accounts::Accounts;
use shared::accounts::update::UserChanges;
use shared::users::{Name, Phone, UserStatus};
use uuid::Uuid;

use crate::auth::errors::invalid;
use crate::auth::guard::Caller;
use crate::http::{ApiError, Handler, Json};
use crate::users::get_user::with_etag;

/// Who may change a user's status, besides whom the route lets through.
const STATUS_PERMISSION: &str = "users:update";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateUserRequest, example = json!({"name": "Grace B. Hopper", "phone": null}))]
pub(crate) struct Body {
    #[serde(default)]
    name: Option<String>,
    /// Absent leaves the phone as it is; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::schemas::UserStatus>)]
    status: Option<UserStatus>,
}

/// A field that is present, even as `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub fn handler(accounts: Accounts) -> Handler {
    crate::http::handler(handle, accounts)
}

async fn handle(
    State(accounts): State<Accounts>,
    caller: Caller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<Body>,
) -> Result<Response, ApiError> {
    if body.status.is_some() && !caller.has(STATUS_PERMISSION) {
        return Err(ApiError::Forbidden {
            code: "forbidden",
            detail: format!("changing a user's status needs {STATUS_PERMISSION}"),
        });
    }
    let changes = changes(body)?;
    let expected = expected_version(&headers)?;
    let user = accounts.update_user(id, &changes, expected).await?;
    Ok(with_etag(&user))
}

/// The changes a body asks for, every invalid field named at once.
fn changes(body: Body) -> Result<UserChanges, ApiError> {
    let name = body.name.as_deref().map(Name::parse).transpose();
    let phone = body
        .phone
        .map(|phone| phone.as_deref().map(Phone::parse).transpose())
        .transpose();
    match (name, phone) {
        (Ok(name), Ok(phone)) => Ok(UserChanges {
            name,
            phone,
            status: body.status,
        }),
        (name, phone) => {
            let errors = [invalid("name", name.err()), invalid("phone", phone.err())];
            Err(ApiError::Validation(errors.into_iter().flatten().collect()))
        }
    }
}

/// The version an `If-Match` names: `None` without the header or with `*`. An entity tag that
/// is none of ours can match no version: 412.
fn expected_version(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::PreconditionFailed)?
        .trim();
    if value == "*" {
        return Ok(None);
    }
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or(ApiError::PreconditionFailed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn if_match(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(IF_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn an_if_match_names_a_version_or_any() {
        assert_eq!(expected_version(&HeaderMap::new()).unwrap(), None);
        assert_eq!(expected_version(&if_match("*")).unwrap(), None);
        assert_eq!(expected_version(&if_match("\"7\"")).unwrap(), Some(7));
        for foreign in ["7", "W/\"7\"", "\"seven\"", "\"\""] {
            assert!(
                matches!(
                    expected_version(&if_match(foreign)),
                    Err(ApiError::PreconditionFailed)
                ),
                "{foreign}"
            );
        }
    }

    #[test]
    fn a_null_phone_clears_it_and_an_absent_one_leaves_it() {
        let cleared: Body = serde_json::from_str(r#"{"phone": null}"#).unwrap();
        assert_eq!(changes(cleared).unwrap().phone, Some(None));
        let left: Body = serde_json::from_str(r#"{"name": "Ada"}"#).unwrap();
        assert_eq!(changes(left).unwrap().phone, None);
        assert!(serde_json::from_str::<Body>(r#"{"email": "x@example.com"}"#).is_err());
    }
}
