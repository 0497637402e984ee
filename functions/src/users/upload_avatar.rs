//! `POST /api/v1/users/{id}/avatar` (the user, or `users:update`): `{content_type}` → 200 with
//! a presigned POST `{url, fields, expires_at}` for one image of at most 5 MB, PNG, JPEG, WebP
//! or GIF, usable for 10 minutes, under a quarantine key the server chooses. The upload is
//! then checked by its content and re-encoded by the `process_avatar` job; the user's
//! `avatar_url` changes when that is done.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::blob::{UploadForms, UploadPolicy};
use shared::clock::Random;
use shared::users::UserRepo;
use uuid::Uuid;

use crate::http::{ApiError, FieldError, Handler, Json};
use crate::jobs::process_avatar::{MAX_UPLOAD_BYTES, QUARANTINE_PREFIX};

/// The types an avatar may be declared as (its content decides in the end).
pub const CONTENT_TYPES: &[&str] = &["image/png", "image/jpeg", "image/webp", "image/gif"];

/// How long the form can be used.
pub const FORM_LIFETIME: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AvatarUploadRequest, example = json!({"content_type": "image/png"}))]
pub(crate) struct Body {
    #[schema(schema_with = crate::openapi::schemas::avatar_content_type)]
    content_type: String,
}

#[derive(Debug, Clone)]
pub struct Ports {
    pub users: UserRepo,
    pub forms: Arc<dyn UploadForms>,
    pub random: Arc<dyn Random>,
}

pub fn handler(ports: Ports) -> Handler {
    crate::http::handler(handle, ports)
}

async fn handle(
    State(ports): State<Ports>,
    Path(id): Path<Uuid>,
    Json(body): Json<Body>,
) -> Result<axum::Json<Value>, ApiError> {
    let content_type = body.content_type.trim().to_ascii_lowercase();
    if !CONTENT_TYPES.contains(&content_type.as_str()) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "content_type",
            format!("must be one of: {}", CONTENT_TYPES.join(", ")),
        )]));
    }
    // An avatar for nobody would never be processed.
    ports
        .users
        .get(id)
        .await
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("reading a user")))?
        .ok_or(ApiError::NotFound)?;
    let policy = UploadPolicy {
        key: format!("{QUARANTINE_PREFIX}{id}/{}", ports.random.id().simple()),
        content_type,
        max_bytes: MAX_UPLOAD_BYTES,
        expires_in: FORM_LIFETIME,
    };
    let post =
        ports.forms.presign_upload(&policy).await.map_err(|e| {
            ApiError::internal(anyhow::Error::new(e).context("presigning an upload"))
        })?;
    Ok(axum::Json(json!({
        "url": post.url,
        "fields": post.fields,
        "expires_at": post.expires_at,
    })))
}
