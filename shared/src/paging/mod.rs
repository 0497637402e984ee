//! Page cursors that a client can hold but not forge: the position of a page, sealed with
//! HMAC-SHA256 under a key of the secrets store, bound to the query it came from.
//!
//! A cursor is `<position>.<tag>`, both base64url: the position as JSON, and the MAC of the
//! query's *scope* (the endpoint and its filters, e.g. `users?status=active&q=ada`) and the
//! position. A cursor edited by hand, sealed under another key, or replayed with other filters
//! fails to open: the API answers 400 `invalid_cursor`. Positions say where a page ends, never
//! anything the caller may not read.
//!
//! [`lanes`] reads a sharded index back as one list.

pub mod lanes;

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::clock::Random;
use crate::secrets::{Secrets, SecretsError};

/// The secret's name unless configured.
pub const DEFAULT_SECRET_NAME: &str = "cursor-key";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is invalid, or belongs to another query")]
pub struct InvalidCursor;

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    InvalidCursor(#[from] InvalidCursor),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The key cursors are sealed with. Never printed.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(***)")
    }
}

impl CursorKey {
    /// The key a secret's value stands for (any string of enough entropy).
    pub fn from_secret(value: &str) -> Self {
        Self(Sha256::digest(value.as_bytes()).into())
    }

    /// Reads the key's secret, creating it with 256 random bits when there is none yet (two
    /// racing creators agree on one value: see [`Secrets::create`]).
    pub async fn load_or_create(
        secrets: &dyn Secrets,
        name: &str,
        random: &dyn Random,
    ) -> Result<Self, SecretsError> {
        if let Some(value) = secrets.get(name).await? {
            return Ok(Self::from_secret(&value));
        }
        let mut bytes = [0u8; 32];
        random.fill(&mut bytes);
        let fresh = URL_SAFE_NO_PAD.encode(bytes);
        secrets.create(name, &fresh).await?;
        let value = secrets.get(name).await?.unwrap_or(fresh);
        Ok(Self::from_secret(&value))
    }

    /// Seals a page position for the query `scope`.
    pub fn seal<T: Serialize>(&self, scope: &str, position: &T) -> String {
        // A position is plain data (strings, numbers): serializing it cannot fail.
        let json = serde_json::to_vec(position).unwrap_or_default();
        let tag = self.tag(scope, &json);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Opens a cursor sealed for `scope`.
    pub fn open<T: DeserializeOwned>(&self, scope: &str, cursor: &str) -> Result<T, InvalidCursor> {
        let (json, tag) = cursor.split_once('.').ok_or(InvalidCursor)?;
        let json = URL_SAFE_NO_PAD.decode(json).map_err(|_| InvalidCursor)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| InvalidCursor)?;
        self.mac(scope, &json)
            .verify_slice(&tag)
            .map_err(|_| InvalidCursor)?;
        serde_json::from_slice(&json).map_err(|_| InvalidCursor)
    }

    fn tag(&self, scope: &str, json: &[u8]) -> Vec<u8> {
        self.mac(scope, json).finalize().into_bytes().to_vec()
    }

    fn mac(&self, scope: &str, json: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        // The scope's length first, so no scope/position split can collide with another.
        mac.update(&(scope.len() as u64).to_be_bytes());
        mac.update(scope.as_bytes());
        mac.update(json);
        mac
    }
}

/// The cursor key, read from the secrets store once per process.
#[derive(Debug, Clone)]
pub struct CachedCursorKey {
    secrets: Arc<dyn Secrets>,
    name: String,
    random: Arc<dyn Random>,
    key: Arc<OnceCell<CursorKey>>,
}

impl CachedCursorKey {
    pub fn new(
        secrets: Arc<dyn Secrets>,
        name: impl Into<String>,
        random: Arc<dyn Random>,
    ) -> Self {
        Self {
            secrets,
            name: name.into(),
            random,
            key: Arc::new(OnceCell::new()),
        }
    }

    pub async fn get(&self) -> Result<&CursorKey, SecretsError> {
        self.key
            .get_or_try_init(|| {
                CursorKey::load_or_create(self.secrets.as_ref(), &self.name, self.random.as_ref())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Position {
        after: String,
    }

    fn position() -> Position {
        Position {
            after: "2026-01-01T00:00:00.000Z#x".into(),
        }
    }

    #[test]
    fn a_sealed_cursor_opens_for_its_scope_only() {
        let key = CursorKey::from_secret("k");
        let cursor = key.seal("users?status=active", &position());
        assert_eq!(
            key.open::<Position>("users?status=active", &cursor),
            Ok(position())
        );
        assert_eq!(
            key.open::<Position>("users?status=disabled", &cursor),
            Err(InvalidCursor)
        );
        assert_eq!(
            CursorKey::from_secret("other").open::<Position>("users?status=active", &cursor),
            Err(InvalidCursor)
        );
    }

    #[test]
    fn a_tampered_cursor_does_not_open() {
        let key = CursorKey::from_secret("k");
        let cursor = key.seal("users", &position());
        let (json, tag) = cursor.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"after":"9999"}"#);
        for bad in [
            format!("{forged}.{tag}"),
            format!("{json}.{}", URL_SAFE_NO_PAD.encode([0u8; 32])),
            json.to_owned(),
            "not a cursor".to_owned(),
            String::new(),
        ] {
            assert_eq!(
                key.open::<Position>("users", &bad),
                Err(InvalidCursor),
                "{bad}"
            );
        }
    }
}
