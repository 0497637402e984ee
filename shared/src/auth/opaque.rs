//! Opaque bearer secrets (refresh, verification and reset tokens): random, handed out once,
//! stored only as their SHA-256.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::clock::Random;

/// 256 bits: more than enough against guessing, for every kind of token.
pub const TOKEN_BYTES: usize = 32;

/// A freshly generated token. Its text goes to the client once; only its [`TokenHash`] is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueToken(String);

impl OpaqueToken {
    pub fn generate(random: &dyn Random) -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        random.fill(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken(***)")
    }
}

/// The SHA-256 of a token, hex. A token has 256 bits of entropy, so a plain hash is as good as
/// a slow one: there is nothing to guess.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hash of what a client presented (any string: a wrong one simply matches nothing).
    pub fn of(presented: &str) -> Self {
        Self(hex_lower(&Sha256::digest(presented.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandom;

    #[test]
    fn a_token_has_256_bits_and_hashes_to_its_sha256() {
        let token = OpaqueToken::generate(&OsRandom);
        assert_eq!(token.expose().len(), 43);
        assert_eq!(token.hash(), TokenHash::of(token.expose()));
        assert_ne!(token, OpaqueToken::generate(&OsRandom));
        assert_eq!(
            TokenHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(format!("{token:?}"), "OpaqueToken(***)");
    }
}
