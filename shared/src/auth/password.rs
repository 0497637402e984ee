//! Passwords: the rules a new password must meet, and argon2id hashing.
//!
//! A [`Password`] is a password that meets the rules for a *new* password (registration, reset,
//! change): 8 to 128 characters counted as Unicode scalar values, taken exactly as typed (never
//! trimmed, never truncated), no composition rules, and not one of the most common passwords.
//! Login does not parse its candidate: it hashes whatever was sent ([`verify_password`]), so a
//! password set under older rules keeps working.
//!
//! # The common password list
//!
//! `common_passwords.txt` holds, one per line in frequency order, the entries of 8 bytes or more
//! (UTF-8) from the list of 20,000 most common passwords compiled by Royce Williams, as shipped by
//! Django in `django/contrib/auth/common-passwords.txt.gz` (lower-cased and de-duplicated to
//! 19,640 entries; BSD-3-Clause, Copyright (c) Django Software Foundation and individual
//! contributors). Shorter entries are left out because the length rule already refuses them; the
//! five Cyrillic entries that are 8 bytes but fewer than 8 characters long stay in the file and
//! are refused by the length rule too. The file is compiled into the binary and its lookup set
//! is built on the first check only.
//!
//! # Hashing
//!
//! [`hash_password`], [`verify_password`] and [`verify_dummy`] each run argon2id at the cost in
//! [`PARAMS`]. They are synchronous and CPU-bound: async callers run them on a blocking thread.

mod hash;

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use thiserror::Error;

pub use hash::{HashError, PARAMS, Verified, hash_password, verify_dummy, verify_password};

/// The fewest characters a new password may have.
pub const MIN_CHARS: usize = 8;

/// The most characters a new password may have.
pub const MAX_CHARS: usize = 128;

const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// A password that meets the rules for a new password. Its content is reachable only through
/// [`Password::expose`]: it is never printed, displayed or serialized.
#[derive(Clone)]
pub struct Password(String);

/// Why a new password was refused. The messages fit a validation error on the password field and
/// never contain the password.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    #[error("must be at least {min} characters long")]
    TooShort { min: usize },
    #[error("must be at most {max} characters long")]
    TooLong { max: usize },
    #[error("is too common and easy to guess")]
    TooCommon,
}

impl Password {
    /// A password that was set before and has just been verified, to be hashed again with the
    /// current parameters. It skips the rules: they may have changed since it was set.
    pub(crate) fn rehashable(verified: &str) -> Password {
        Password(verified.to_owned())
    }

    /// Accepts `raw` exactly as typed when it meets the rules for a new password.
    pub fn parse(raw: String) -> Result<Password, PasswordError> {
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(PasswordError::TooShort { min: MIN_CHARS });
        }
        if chars > MAX_CHARS {
            return Err(PasswordError::TooLong { max: MAX_CHARS });
        }
        if is_common(&raw) {
            return Err(PasswordError::TooCommon);
        }
        Ok(Password(raw))
    }

    /// The password as typed, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Whether `raw`, ignoring case, is on the common password list.
fn is_common(raw: &str) -> bool {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let list = LIST.get_or_init(|| COMMON_PASSWORDS.lines().collect());
    list.contains(raw.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(raw: &str) -> Option<PasswordError> {
        Password::parse(raw.to_owned()).err()
    }

    #[test]
    fn seven_characters_are_too_short_and_eight_are_enough() {
        assert_eq!(refusal("kq3v!zr"), Some(PasswordError::TooShort { min: 8 }));
        assert_eq!(refusal("kq3v!zrw"), None);
    }

    #[test]
    fn one_hundred_twenty_eight_characters_are_accepted_and_one_more_is_too_long() {
        let longest = "kq3v!zrw".repeat(16);
        assert_eq!(longest.chars().count(), 128);
        assert_eq!(refusal(&longest), None);
        assert_eq!(
            refusal(&format!("{longest}x")),
            Some(PasswordError::TooLong { max: 128 })
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(refusal(&"é".repeat(8)), None);
        assert_eq!(
            refusal(&"é".repeat(7)),
            Some(PasswordError::TooShort { min: 8 })
        );
        assert_eq!(refusal(&"é".repeat(128)), None);
        assert_eq!(
            refusal(&"é".repeat(129)),
            Some(PasswordError::TooLong { max: 128 })
        );
    }

    #[test]
    fn a_password_is_kept_exactly_as_typed() -> Result<(), PasswordError> {
        let raw = "  kq3v!zrw \t";
        let password = Password::parse(raw.to_owned())?;
        assert_eq!(password.expose(), raw);
        assert_ne!(password.expose(), raw.trim());
        Ok(())
    }

    #[test]
    fn surrounding_spaces_count_towards_the_length() {
        assert_eq!(refusal(" kq3v!z "), None);
        assert_eq!(refusal("kq3v!z "), Some(PasswordError::TooShort { min: 8 }));
    }

    #[test]
    fn surrounding_spaces_make_a_common_password_acceptable() {
        assert_eq!(refusal(" password "), None);
    }

    #[test]
    fn the_bundled_list_has_one_password_on_each_of_its_8359_lines() {
        assert_eq!(COMMON_PASSWORDS.lines().count(), 8359);
        assert!(
            COMMON_PASSWORDS
                .lines()
                .all(|line| !line.is_empty() && line == line.trim() && line == line.to_lowercase())
        );
    }

    #[test]
    fn every_password_on_the_bundled_list_is_refused_in_any_case() {
        for line in COMMON_PASSWORDS.lines() {
            let expected = if line.chars().count() < MIN_CHARS {
                PasswordError::TooShort { min: MIN_CHARS }
            } else {
                PasswordError::TooCommon
            };
            assert_eq!(refusal(line), Some(expected.clone()), "{line}");
            assert_eq!(refusal(&line.to_uppercase()), Some(expected), "{line}");
        }
    }

    #[test]
    fn well_known_weak_passwords_are_too_common() {
        for raw in [
            "password",
            "12345678",
            "qwertyuiop",
            "PassWord",
            "QWERTYUIOP",
        ] {
            assert_eq!(refusal(raw), Some(PasswordError::TooCommon), "{raw}");
        }
    }

    #[test]
    fn refusals_never_repeat_the_password() {
        for raw in ["short", "password", &"long".repeat(40)] {
            let Some(refusal) = refusal(raw) else {
                panic!("{raw} was accepted");
            };
            let message = refusal.to_string();
            assert!(!message.contains(raw), "{message}");
        }
    }

    #[test]
    fn debug_output_hides_the_password() -> Result<(), PasswordError> {
        let password = Password::parse("kq3v!zrw-secret".to_owned())?;
        let shown = format!("{password:?}");
        assert_eq!(shown, "Password(***)");
        assert!(!shown.contains("kq3v"));
        Ok(())
    }
}
