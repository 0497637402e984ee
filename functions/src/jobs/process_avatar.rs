//! `process_avatar`: turns an upload waiting in quarantine into a user's avatar.
//!
//! The upload is untrusted whatever its declared type: it is decoded by its content (the
//! format is read from its first bytes, never from a name or a header), only PNG, JPEG, WebP
//! and GIF are accepted, and the decoder is given its limits before it reads a pixel
//! (dimensions, memory), so a small file that declares a huge image is refused without
//! allocating it; a truncated file fails to decode. What is kept is only the pixels,
//! re-encoded as a 256×256 PNG (metadata — EXIF, location, comments — does not survive),
//! stored under the user's public avatars prefix. Then the user's `avatar_url` points at it,
//! and the quarantined upload and the previous avatar are deleted. A refused upload is
//! deleted too and the job succeeds with the reason: it is the uploader's error, not the
//! system's.

use std::io::Cursor;
use std::sync::Arc;

use async_trait::async_trait;
use image::{ImageFormat, ImageReader, Limits, imageops::FilterType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::blob::BlobStore;
use shared::clock::{Clock, Random};
use shared::store::{ItemStore, StoreError};
use shared::users::repo::update_write;
use shared::users::{User, UserRepo};
use uuid::Uuid;

use crate::jobs::{JobFailure, JobPayload, JobType};

/// The largest upload accepted, as the presigned form also says.
pub const MAX_UPLOAD_BYTES: u64 = 5 * 1024 * 1024;
/// The largest width and height decoded.
pub const MAX_DIMENSION: u32 = 4096;
/// The most memory the decoder may take.
pub const MAX_DECODE_BYTES: u64 = 64 * 1024 * 1024;
/// The side of the stored avatar.
pub const AVATAR_SIDE: u32 = 256;

/// The prefix uploads wait under until processed; the key names the user.
pub const QUARANTINE_PREFIX: &str = "uploads/avatars/";
/// The public prefix of processed avatars.
pub const AVATARS_PREFIX: &str = "avatars/";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessAvatarRequest {
    pub user_id: Uuid,
    /// The quarantined upload, under [`QUARANTINE_PREFIX`]`<user id>/`.
    pub key: String,
}

impl JobPayload for ProcessAvatarRequest {
    const JOB_TYPE: &'static str = "process_avatar";
}

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the upload is over {MAX_UPLOAD_BYTES} bytes")]
    TooLarge,
    #[error("the upload is not a PNG, JPEG, WebP or GIF image")]
    NotAnImage,
    #[error("the image is over {MAX_DIMENSION}×{MAX_DIMENSION} pixels or needs too much memory")]
    TooBig,
    #[error("the image does not decode: {0}")]
    Broken(String),
}

/// Decodes an upload by its content within the limits and re-encodes it as a square PNG of
/// [`AVATAR_SIDE`] pixels.
pub fn reencode(bytes: &[u8]) -> Result<Vec<u8>, Refused> {
    if bytes.len() as u64 > MAX_UPLOAD_BYTES {
        return Err(Refused::TooLarge);
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Refused::Broken(e.to_string()))?;
    let accepted = [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::WebP,
        ImageFormat::Gif,
    ];
    if !reader.format().is_some_and(|f| accepted.contains(&f)) {
        return Err(Refused::NotAnImage);
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => Refused::TooBig,
        other => Refused::Broken(other.to_string()),
    })?;
    let square = image.resize_to_fill(AVATAR_SIDE, AVATAR_SIDE, FilterType::Triangle);
    let mut png = Vec::new();
    square
        .to_rgba8()
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| Refused::Broken(e.to_string()))?;
    Ok(png)
}

#[derive(Debug, Clone)]
pub struct ProcessAvatar {
    store: Arc<dyn ItemStore>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    /// Where the public avatars prefix is served from.
    public_url: String,
}

impl ProcessAvatar {
    pub fn new(
        store: Arc<dyn ItemStore>,
        blobs: Arc<dyn BlobStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        public_url: impl Into<String>,
    ) -> Self {
        Self {
            store,
            blobs,
            clock,
            random,
            public_url: public_url.into().trim_end_matches('/').to_owned(),
        }
    }

    /// The public URL of a stored avatar.
    fn url_of(&self, key: &str) -> String {
        format!("{}/{key}", self.public_url)
    }

    /// Points the user at the new avatar (conditional on the version read); the previous
    /// avatar's key, or `None` when the user is gone.
    async fn set_avatar(
        &self,
        user_id: Uuid,
        key: &str,
    ) -> Result<Option<Option<String>>, StoreError> {
        let users = UserRepo::new(self.store.clone());
        loop {
            let Some(user) = users.get(user_id).await? else {
                return Ok(None);
            };
            let changed = User {
                avatar_url: Some(self.url_of(key)),
                avatar_key: Some(key.to_owned()),
                updated_at: self.clock.now(),
                ..user.clone()
            };
            let (save, _) = update_write(&user, &changed)?;
            match self.store.transact(vec![save]).await {
                Ok(()) => return Ok(Some(user.avatar_key)),
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Where the avatar made from an upload goes: named after the upload, so a retried job
/// writes the same blob again instead of leaving the first attempt's behind.
fn avatar_key(request: &ProcessAvatarRequest, random: &dyn Random) -> String {
    let name = crate::users::avatar_uploaded::upload_id(&request.key)
        .unwrap_or_else(|| random.id())
        .simple();
    format!("{AVATARS_PREFIX}{}/{name}.png", request.user_id)
}

#[async_trait]
impl JobType for ProcessAvatar {
    type Payload = ProcessAvatarRequest;

    async fn run(&self, request: ProcessAvatarRequest) -> Result<Value, JobFailure> {
        let retry = |e: anyhow::Error| JobFailure::Retryable(e.context("processing an avatar"));
        let expected_prefix = format!("{QUARANTINE_PREFIX}{}/", request.user_id);
        if !request.key.starts_with(&expected_prefix) {
            return Err(JobFailure::Permanent(anyhow::anyhow!(
                "{} is not an upload of user {}",
                request.key,
                request.user_id
            )));
        }
        let Some(upload) = self
            .blobs
            .get(&request.key)
            .await
            .map_err(|e| retry(e.into()))?
        else {
            // Processed (or refused) already: a redelivered job has nothing left to do.
            return Ok(json!({ "accepted": false, "reason": "the upload is gone" }));
        };
        // Decoding is CPU work: off the executor.
        let decoded = tokio::task::spawn_blocking(move || reencode(&upload.bytes))
            .await
            .map_err(|e| retry(e.into()))?;
        let outcome = match decoded {
            Ok(png) => {
                let key = avatar_key(&request, self.random.as_ref());
                self.blobs
                    .put(&key, png, "image/png")
                    .await
                    .map_err(|e| retry(e.into()))?;
                let url = self.url_of(&key);
                match self
                    .set_avatar(request.user_id, &key)
                    .await
                    .map_err(|e| retry(e.into()))?
                {
                    Some(previous) => {
                        let own = format!("{AVATARS_PREFIX}{}/", request.user_id);
                        // A retry finds its own avatar set already: that one stays.
                        if let Some(old) = previous.filter(|k| k.starts_with(&own) && *k != key) {
                            self.blobs.delete(&old).await.map_err(|e| retry(e.into()))?;
                        }
                        tracing::info!(user_id = %request.user_id, key, "avatar set");
                        json!({ "accepted": true, "avatar_url": url })
                    }
                    None => {
                        self.blobs.delete(&key).await.map_err(|e| retry(e.into()))?;
                        json!({ "accepted": false, "reason": "the user is gone" })
                    }
                }
            }
            Err(refused) => {
                tracing::info!(user_id = %request.user_id, reason = %refused, "avatar upload refused");
                json!({ "accepted": false, "reason": refused.to_string() })
            }
        };
        self.blobs
            .delete(&request.key)
            .await
            .map_err(|e| retry(e.into()))?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, RgbImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, _| image::Rgb([x as u8, 90, 200]));
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg)
            .unwrap();
        bytes
    }

    /// A valid PNG header declaring `width`×`height`, with no pixels behind it.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(&[0; 3], 1, 1, image::ExtendedColorType::Rgb8)
            .unwrap();
        // Patch the IHDR's width and height (and its CRC) to the declared size.
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for byte in data {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn real_png_and_jpeg_become_square_pngs() {
        for upload in [png(640, 480), jpeg(300, 900)] {
            let out = reencode(&upload).unwrap();
            let decoded = image::load_from_memory(&out).unwrap();
            assert_eq!(
                (decoded.width(), decoded.height()),
                (AVATAR_SIDE, AVATAR_SIDE)
            );
            assert_eq!(image::guess_format(&out).unwrap(), ImageFormat::Png);
        }
    }

    #[test]
    fn text_named_png_truncated_files_bombs_and_oversize_uploads_are_refused() {
        assert_eq!(reencode(b"hello, I am a .png"), Err(Refused::NotAnImage));
        let whole = png(200, 200);
        assert!(matches!(
            reencode(&whole[..whole.len() / 2]),
            Err(Refused::Broken(_))
        ));
        assert_eq!(reencode(&png_header(30_000, 30_000)), Err(Refused::TooBig));
        let mut huge = png(10, 10);
        huge.resize(MAX_UPLOAD_BYTES as usize + 1, 0);
        assert_eq!(reencode(&huge), Err(Refused::TooLarge));
    }

    #[test]
    fn metadata_does_not_survive() {
        // A PNG with a text chunk holding a "secret": the re-encoded avatar has no text chunk.
        let mut upload = png(50, 50);
        let mut chunk = Vec::new();
        let data = b"Comment\0taken at 51.5N 0.1W";
        chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
        chunk.extend_from_slice(b"tEXt");
        chunk.extend_from_slice(data);
        let crc = crc32(&chunk[4..]);
        chunk.extend_from_slice(&crc.to_be_bytes());
        upload.splice(33..33, chunk);
        assert!(upload.windows(4).any(|w| w == b"tEXt"));
        let out = reencode(&upload).unwrap();
        assert!(!out.windows(4).any(|w| w == b"tEXt"));
        assert!(!out.windows(5).any(|w| w == b"51.5N"));
    }
}
