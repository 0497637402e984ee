//! `process_avatar`: turns an upload waiting in quarantine into a user's avatar.
//!
//! The upload is untrusted whatever its declared type: it is decoded by its content (the
//! format is read from its first bytes, never from a name or a header), only PNG, JPEG, WebP
//! and GIF are accepted, and the decoder is given its limits before it reads a pixel
//! (dimensions, memory), so a small file that declares a huge image is refused without
//! allocating it; a truncated file fails to decode. What is kept is only the pixels of its
//! centred square, re-encoded as a 256×256 PNG (metadata — EXIF, location, comments — does not survive),
//! stored under the user's public avatars prefix. Then the user's `avatar_url` points at it,
//! and the quarantined upload and the previous avatar are deleted — unless the avatar comes from
//! a later upload already (an earlier upload whose attempt died is processed late, and must not
//! replace it: avatars are named after their upload's time-ordered id). A refused upload is
//! deleted too and the job succeeds with the reason: it is the uploader's error, not the
//! system's.

use std::io::Cursor;
use std::sync::Arc;

use async_trait::async_trait;
use image::codecs::png::PngEncoder;
use image::imageops::{self, FilterType};
use image::{ExtendedColorType, ImageEncoder, ImageFormat, ImageReader, Limits};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::blob::BlobStore;
use shared::clock::Clock;
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
    let (width, height) = (image.width(), image.height());
    let side = width.min(height);
    if side == 0 {
        return Err(Refused::Broken("the image has no pixels".into()));
    }
    // Only the centred square is scaled, read as 8-bit RGBA through a view of the decoded image
    // whatever its pixel type: no full-size copy beyond what the decoder's limits allowed, and
    // one resize and one encoder linked rather than one per pixel type and output format.
    let square = imageops::crop_imm(&image, (width - side) / 2, (height - side) / 2, side, side);
    let avatar = imageops::resize(&*square, AVATAR_SIDE, AVATAR_SIDE, FilterType::Triangle);
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(
            avatar.as_raw(),
            AVATAR_SIDE,
            AVATAR_SIDE,
            ExtendedColorType::Rgba8,
        )
        .map_err(|e| Refused::Broken(e.to_string()))?;
    Ok(png)
}

#[derive(Debug, Clone)]
pub struct ProcessAvatar {
    store: Arc<dyn ItemStore>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    /// Where the public avatars prefix is served from.
    public_url: String,
}

impl ProcessAvatar {
    pub fn new(
        store: Arc<dyn ItemStore>,
        blobs: Arc<dyn BlobStore>,
        clock: Arc<dyn Clock>,
        public_url: impl Into<String>,
    ) -> Self {
        Self {
            store,
            blobs,
            clock,
            public_url: public_url.into().trim_end_matches('/').to_owned(),
        }
    }

    /// The public URL of a stored avatar.
    fn url_of(&self, key: &str) -> String {
        format!("{}/{key}", self.public_url)
    }

    /// Points the user at the new avatar (conditional on the version read), unless their
    /// avatar comes from a later upload already.
    async fn set_avatar(&self, user_id: Uuid, key: &str) -> Result<Set, StoreError> {
        let users = UserRepo::new(self.store.clone());
        loop {
            let Some(user) = users.get(user_id).await? else {
                return Ok(Set::UserGone);
            };
            match user.avatar_key.as_deref() {
                // An attempt that died after setting it: nothing to replace.
                Some(current) if current == key => return Ok(Set::Replaced(None)),
                Some(current) if upload_id(current) > upload_id(key) => return Ok(Set::Superseded),
                _ => {}
            }
            let changed = User {
                avatar_url: Some(self.url_of(key)),
                avatar_key: Some(key.to_owned()),
                updated_at: self.clock.now(),
                ..user.clone()
            };
            let (save, _) = update_write(&user, &changed)?;
            match self.store.transact(vec![save]).await {
                Ok(()) => return Ok(Set::Replaced(user.avatar_key)),
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// What setting an avatar came to.
enum Set {
    /// The user shows it now; the key of the avatar it replaced.
    Replaced(Option<String>),
    /// The user shows an avatar from a later upload, which an earlier one processed late (its
    /// first attempt died) must not replace.
    Superseded,
    UserGone,
}

/// The id that ends an upload's or an avatar's key: time-ordered, given when the upload's
/// form was made.
fn upload_id(key: &str) -> &str {
    let name = key.rsplit('/').next().unwrap_or(key);
    name.strip_suffix(".png").unwrap_or(name)
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
                // Named after the upload: a later upload's avatar sorts after it, and an
                // attempt made again writes the same avatar.
                let key = format!(
                    "{AVATARS_PREFIX}{}/{}.png",
                    request.user_id,
                    upload_id(&request.key)
                );
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
                    Set::Replaced(previous) => {
                        let own = format!("{AVATARS_PREFIX}{}/", request.user_id);
                        if let Some(old) = previous.filter(|k| k.starts_with(&own)) {
                            self.blobs.delete(&old).await.map_err(|e| retry(e.into()))?;
                        }
                        tracing::info!(user_id = %request.user_id, key, "avatar set");
                        json!({ "accepted": true, "avatar_url": url })
                    }
                    Set::Superseded => {
                        self.blobs.delete(&key).await.map_err(|e| retry(e.into()))?;
                        json!({ "accepted": false, "reason": "a later upload is the avatar" })
                    }
                    Set::UserGone => {
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
    use image::RgbImage;
    use infra::compose::{Backend, LocalBackend};
    use infra::config::LocalConfig;
    use shared::clock::{OsRandom, Random};
    use shared::users::{Email, Name, PasswordHash, UserStatus};

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

    /// A local backend holding one user, Ada, without an avatar.
    async fn with_ada() -> anyhow::Result<(tempfile::TempDir, LocalBackend, User)> {
        let dir = tempfile::tempdir()?;
        let backend = LocalBackend::open_default(LocalConfig::new(dir.path(), "http://x")).await?;
        let now = backend.clock().now();
        let user = User {
            id: OsRandom.id(),
            email: Email::parse("ada@example.com")?,
            name: Name::parse("Ada")?,
            phone: None,
            status: UserStatus::Active,
            email_verified: true,
            password_hash: PasswordHash("$argon2id$unused".into()),
            token_version: 0,
            avatar_url: None,
            avatar_key: None,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        backend
            .store()?
            .transact(shared::users::repo::insert_writes(&user, &[])?)
            .await?;
        Ok((dir, backend, user))
    }

    #[tokio::test]
    async fn an_older_upload_processed_late_does_not_replace_a_newer_avatar() -> anyhow::Result<()>
    {
        let (_dir, backend, user) = with_ada().await?;
        let (store, blobs) = (backend.store()?, backend.blobs()?);
        let job = ProcessAvatar::new(store.clone(), blobs.clone(), backend.clock(), "http://cdn");
        // Two uploads, the older one's first attempt dead: the newer one is processed first.
        let [older, newer] = [OsRandom.id(), OsRandom.id()]
            .map(|id| format!("{QUARANTINE_PREFIX}{}/{}", user.id, id.simple()));
        for key in [&older, &newer] {
            blobs.put(key, png(40, 30), "image/png").await?;
        }
        let request = |key: &str| ProcessAvatarRequest {
            user_id: user.id,
            key: key.to_owned(),
        };
        let set = job
            .run(request(&newer))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let late = job
            .run(request(&older))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;

        assert_eq!(set["accepted"], true, "{set}");
        assert_eq!(late["accepted"], false, "{late}");
        let shown = UserRepo::new(store).get(user.id).await?;
        assert_eq!(
            shown.and_then(|u| u.avatar_url),
            set["avatar_url"].as_str().map(str::to_owned)
        );
        let older_avatar = format!("{AVATARS_PREFIX}{}/{}.png", user.id, upload_id(&older));
        assert!(
            blobs.get(&older_avatar).await?.is_none(),
            "the late avatar is left behind"
        );
        assert!(
            blobs.get(&older).await?.is_none(),
            "the late upload is left in quarantine"
        );
        Ok(())
    }

    #[tokio::test]
    async fn an_upload_processed_again_after_its_attempt_set_it_keeps_the_avatar()
    -> anyhow::Result<()> {
        let (_dir, backend, user) = with_ada().await?;
        let (store, blobs) = (backend.store()?, backend.blobs()?);
        let job = ProcessAvatar::new(store.clone(), blobs.clone(), backend.clock(), "http://cdn");
        let key = format!("{QUARANTINE_PREFIX}{}/{}", user.id, OsRandom.id().simple());
        let request = ProcessAvatarRequest {
            user_id: user.id,
            key: key.clone(),
        };
        blobs.put(&key, png(40, 30), "image/png").await?;
        job.run(request.clone())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        // The attempt died after setting the avatar and before deleting the upload.
        blobs.put(&key, png(40, 30), "image/png").await?;
        job.run(request).await.map_err(|e| anyhow::anyhow!("{e}"))?;

        let shown = UserRepo::new(store)
            .get(user.id)
            .await?
            .and_then(|u| u.avatar_key);
        let avatar = shown.as_deref().map(|k| blobs.get(k));
        match avatar {
            Some(get) => assert!(get.await?.is_some(), "the avatar shown is gone"),
            None => panic!("no avatar shown"),
        }
        Ok(())
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
    fn gif_and_webp_become_square_pngs_too() {
        let image =
            image::RgbaImage::from_fn(90, 60, |x, y| image::Rgba([x as u8, y as u8, 7, 255]));
        for format in [ImageFormat::Gif, ImageFormat::WebP] {
            let mut upload = Vec::new();
            image
                .write_to(&mut Cursor::new(&mut upload), format)
                .unwrap();
            let decoded = image::load_from_memory(&reencode(&upload).unwrap()).unwrap();
            assert_eq!(
                (decoded.width(), decoded.height()),
                (AVATAR_SIDE, AVATAR_SIDE),
                "{format:?}"
            );
        }
    }

    #[test]
    fn the_avatar_is_the_centred_square() {
        // Red in the middle third of a wide image, blue either side: only the red is kept.
        let wide = RgbImage::from_fn(600, 200, |x, _| {
            if (200..400).contains(&x) {
                image::Rgb([250, 0, 0])
            } else {
                image::Rgb([0, 0, 250])
            }
        });
        let mut upload = Vec::new();
        wide.write_to(&mut Cursor::new(&mut upload), ImageFormat::Png)
            .unwrap();
        let avatar = image::load_from_memory(&reencode(&upload).unwrap())
            .unwrap()
            .into_rgba8();
        assert!(
            avatar.pixels().all(|p| p.0 == [250, 0, 0, 255]),
            "a pixel from outside the centred square"
        );
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
