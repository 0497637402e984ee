//! Access tokens already verified by this process, so a warm function checks a token's
//! signature once in the token's lifetime rather than on every request.
//!
//! Only what the token proves about itself is remembered: genuine, ours, for us. What can
//! change while it lives is checked on every use: expiry against the caller's clock, and that
//! the key it was signed with still verifies (a key revoked from the set stops its tokens at
//! once, as without the cache). Whether the session and token version still stand
//! is never cached: the caller query still runs on every request, so logout stays immediate.
//!
//! Keyed by the token's SHA-256, so no bearer credential is held in memory; bounded, and
//! emptied of expired entries when full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{AccessTokens, Claims, TokenError};
use crate::auth::keys::KeySet;

/// The most tokens remembered: a few thousand callers within one token lifetime, ~200 bytes
/// each.
const CAPACITY: usize = 4096;

/// The verified tokens of one process, shared by the clones of its authenticator.
#[derive(Debug, Clone, Default)]
pub struct VerifiedTokens {
    entries: Arc<Mutex<HashMap<[u8; 32], Verified>>>,
}

#[derive(Debug, Clone)]
struct Verified {
    claims: Claims,
    kid: String,
}

impl VerifiedTokens {
    pub fn new() -> Self {
        Self::default()
    }

    /// [`AccessTokens::verify`], from memory when this token was verified before.
    pub fn verify(
        &self,
        tokens: &AccessTokens,
        keys: &KeySet,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Claims, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(known) = self.lookup(&digest) {
            if keys
                .verifying(&known.kid, now, tokens.max_token_lifetime())
                .is_some()
            {
                if now.timestamp() >= known.claims.exp.saturating_add(tokens.leeway.num_seconds()) {
                    return Err(TokenError::Expired);
                }
                return Ok(known.claims);
            }
            // Its key left the set: verify again, which refuses it.
            self.lock().remove(&digest);
        }
        let (claims, kid) = tokens.verify_naming_key(keys, token, now)?;
        self.remember(
            digest,
            Verified {
                claims: claims.clone(),
                kid,
            },
            now,
        );
        Ok(claims)
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lookup(&self, digest: &[u8; 32]) -> Option<Verified> {
        self.lock().get(digest).cloned()
    }

    fn remember(&self, digest: [u8; 32], verified: Verified, now: DateTime<Utc>) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            let now = now.timestamp();
            entries.retain(|_, known| known.claims.exp > now);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(digest, verified);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Verified>> {
        // A panic while holding the map leaves it consistent: every write is one call.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
