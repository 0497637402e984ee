//! argon2id password hashes in PHC string form: making them, checking a candidate against them.

use std::sync::{Mutex, PoisonError};

use argon2::password_hash::{self, Output, PasswordHash, PasswordHasher, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use thiserror::Error;

use super::Password;

/// The cost of every new hash: argon2id (version 0x13), 19,456 KiB of memory, 2 passes, 1 lane,
/// a 32-byte output. Hashes stored with anything else verify, and report that they need a rehash.
pub const PARAMS: Params = match Params::new(19_456, 2, 1, Some(32)) {
    Ok(params) => params,
    Err(_) => panic!("argon2 parameters out of range"),
};

const ALGORITHM: Algorithm = Algorithm::Argon2id;
const VERSION: Version = Version::V0x13;

/// The outcome of checking a candidate against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    Mismatch,
    /// The candidate is the password. When `needs_rehash`, the stored hash was made at another
    /// cost than [`PARAMS`] and should be replaced by a new hash of the candidate.
    Match {
        needs_rehash: bool,
    },
}

/// Hashing could not run. (The argon2 errors do not implement `std::error::Error`, so they are
/// kept as values rather than as a source.)
#[derive(Debug, Error)]
pub enum HashError {
    /// The stored string is not an argon2 PHC hash this code can check against.
    #[error("stored password hash is malformed: {0}")]
    Malformed(password_hash::Error),
    #[error("password hashing failed: {0}")]
    Hashing(password_hash::Error),
}

/// Hashes a new password with [`PARAMS`] and `salt`, which must come from a secure random source.
pub fn hash_password(password: &Password, salt: [u8; 16]) -> Result<String, HashError> {
    hash(password.expose().as_bytes(), &salt)
}

/// Checks `candidate`, taken as sent, against the PHC string `phc` made by [`hash_password`] (at
/// any argon2 cost).
pub fn verify_password(candidate: &str, phc: &str) -> Result<Verified, HashError> {
    let stored = PasswordHash::new(phc).map_err(HashError::Malformed)?;
    // Without these the argon2 verifier answers "wrong password", which would hide a corrupt
    // record behind a failed login.
    if stored.salt.is_none() || stored.hash.is_none() {
        return Err(HashError::Malformed(password_hash::Error::PhcStringField));
    }
    let needs_rehash = !is_current(&stored).map_err(HashError::Malformed)?;
    match matches(candidate.as_bytes(), &stored).map_err(HashError::Malformed)? {
        true => Ok(Verified::Match { needs_rehash }),
        false => Ok(Verified::Mismatch),
    }
}

/// Whether `candidate` hashes to `stored`'s output under `stored`'s algorithm, version, cost
/// and salt, as argon2's own verifier decides it (the comparison is constant-time), but in
/// working memory kept from the last verification.
fn matches(candidate: &[u8], stored: &PasswordHash<'_>) -> Result<bool, password_hash::Error> {
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return Err(password_hash::Error::PhcStringField);
    };
    let algorithm = Algorithm::try_from(stored.algorithm)?;
    let version = stored
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = Params::try_from(stored)?;
    let mut salt_bytes = [0; Salt::MAX_LENGTH];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = with_memory(blocks, |memory| {
        Output::init_with(expected.len(), |out| {
            Ok(argon2.hash_password_into_with_memory(candidate, salt, out, memory)?)
        })
    })?;
    Ok(computed == expected)
}

/// argon2's working memory (19 MiB at [`PARAMS`]) for `work`, taken from those kept by earlier
/// verifications. Allocating it afresh costs a page fault every 4 KiB: a millisecond or more per
/// login, most on a thread that never hashed before. Several verifications at once each take
/// their own; at most [`KEPT_MEMORIES`] are kept.
fn with_memory<T>(blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    static KEPT: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
    let kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner).pop();
    let mut memory = match kept {
        Some(memory) if memory.len() >= blocks => memory,
        _ => vec![Block::default(); blocks],
    };
    let result = work(&mut memory);
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    if kept.len() < KEPT_MEMORIES {
        kept.push(memory);
    }
    result
}

/// Working memories kept for reuse: a Lambda function verifies one password at a time; the
/// local system a few at once.
const KEPT_MEMORIES: usize = 4;

/// Spends the time of one [`verify_password`] at [`PARAMS`], for a login whose account does not
/// exist, so that it answers as slowly as one whose password is wrong.
pub fn verify_dummy(candidate: &str) {
    // The outcome is meaningless: only the time spent matters. black_box keeps the work from
    // being optimised away.
    let _ = std::hint::black_box(verify_password(candidate, dummy_hash()));
}

/// A hash at [`PARAMS`] that no account has. Written out rather than made on first use, so the
/// first unknown-email login after a cold start costs one verification like every other (a
/// test checks it is at the current cost).
fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$xzk6t95L/hiFXFZr323uTg$eK/cTzwDfME2OFu2D7/yKKJvy9A9TT2Mfgds0LfNgus"
}

fn hash(password: &[u8], salt: &[u8]) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(salt).map_err(HashError::Hashing)?;
    let hash = hasher()
        .hash_password(password, &salt)
        .map_err(HashError::Hashing)?;
    Ok(hash.to_string())
}

/// The hasher for new hashes. When verifying, argon2 takes the algorithm, version and cost from
/// the stored hash instead.
fn hasher() -> Argon2<'static> {
    Argon2::new(ALGORITHM, VERSION, PARAMS)
}

/// Whether `stored` was made exactly as [`hash_password`] makes hashes today.
fn is_current(stored: &PasswordHash<'_>) -> Result<bool, password_hash::Error> {
    Ok(stored.algorithm == ALGORITHM.ident()
        && stored.version == Some(VERSION.into())
        && Params::try_from(stored)? == PARAMS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: [u8; 16] = [7; 16];

    fn weak_hash(password: &str) -> Result<String, Box<dyn std::error::Error>> {
        let params = Params::new(4096, 1, 1, Some(32)).map_err(|e| e.to_string())?;
        let salt = SaltString::encode_b64(&SALT).map_err(|e| e.to_string())?;
        let hash = Argon2::new(ALGORITHM, VERSION, params)
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| e.to_string())?;
        Ok(hash.to_string())
    }

    fn current(phc: &str) -> Result<bool, password_hash::Error> {
        is_current(&PasswordHash::new(phc)?)
    }

    #[test]
    fn a_hash_is_an_argon2id_phc_string_at_the_configured_cost_and_matches_its_password()
    -> Result<(), Box<dyn std::error::Error>> {
        let password = Password::parse("kq3v!zrw correct horse".to_owned())?;
        let phc = hash_password(&password, SALT)?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(
            verify_password(password.expose(), &phc)?,
            Verified::Match {
                needs_rehash: false
            }
        );
        Ok(())
    }

    #[test]
    fn a_wrong_candidate_is_a_mismatch() -> Result<(), Box<dyn std::error::Error>> {
        let phc = weak_hash("kq3v!zrw correct horse")?;
        for candidate in [
            "kq3v!zrw correct hors",
            "Kq3v!zrw correct horse",
            " kq3v!zrw correct horse",
            "",
        ] {
            assert_eq!(
                verify_password(candidate, &phc)?,
                Verified::Mismatch,
                "{candidate:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_hash_made_at_a_lower_cost_matches_and_needs_a_rehash()
    -> Result<(), Box<dyn std::error::Error>> {
        let phc = weak_hash("kq3v!zrw correct horse")?;
        assert!(phc.starts_with("$argon2id$v=19$m=4096,t=1,p=1$"), "{phc}");
        assert_eq!(
            verify_password("kq3v!zrw correct horse", &phc)?,
            Verified::Match { needs_rehash: true }
        );
        Ok(())
    }

    #[test]
    fn only_a_hash_made_exactly_as_today_is_current() -> Result<(), password_hash::Error> {
        let salt_and_hash = "c2FsdHNhbHRzYWx0c2FsdA$3qKmrc2Ul/W/gD3HXBBvWyNvRrmlRXGlFVbYS4b8cvU";
        assert!(current(&format!(
            "$argon2id$v=19$m=19456,t=2,p=1${salt_and_hash}"
        ))?);
        for other in [
            "$argon2i$v=19$m=19456,t=2,p=1",
            "$argon2d$v=19$m=19456,t=2,p=1",
            "$argon2id$v=16$m=19456,t=2,p=1",
            "$argon2id$m=19456,t=2,p=1",
            "$argon2id$v=19$m=65536,t=2,p=1",
            "$argon2id$v=19$m=19456,t=3,p=1",
            "$argon2id$v=19$m=19456,t=2,p=2",
        ] {
            assert!(!current(&format!("{other}${salt_and_hash}"))?, "{other}");
        }
        let short_output =
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$3qKmrc2Ul/W/gD3HXBBvWw";
        assert!(!current(short_output)?);
        Ok(())
    }

    #[test]
    fn a_malformed_stored_hash_is_an_error_not_a_mismatch() {
        for phc in [
            "",
            "not a hash",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA",
            "$argon2id$v=19$m=19456,t=2,p=1,x=3$c2FsdHNhbHRzYWx0c2FsdA$3qKmrc2Ul/W/gD3HXBBvWyNvRrmlRXGlFVbYS4b8cvU",
            "$argon2id$v=19$m=1,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$3qKmrc2Ul/W/gD3HXBBvWyNvRrmlRXGlFVbYS4b8cvU",
            "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        ] {
            let outcome = verify_password("kq3v!zrw correct horse", phc);
            assert!(
                matches!(outcome, Err(HashError::Malformed(_))),
                "{phc}: {outcome:?}"
            );
        }
    }

    #[test]
    fn the_dummy_hash_is_made_at_the_configured_cost() -> Result<(), password_hash::Error> {
        assert!(current(dummy_hash())?);
        verify_dummy("kq3v!zrw correct horse");
        Ok(())
    }
}
