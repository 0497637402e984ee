//! The fields of a user's profile a user may set: display name and phone number.

use serde::{Deserialize, Serialize};

pub const NAME_MAX: usize = 100;

/// A display name: trimmed, 1 to [`NAME_MAX`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error("must be a phone number: digits, spaces, dashes and parentheses, optionally led by +")]
    MalformedPhone,
}

impl Name {
    pub fn parse(raw: &str) -> Result<Self, ProfileError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ProfileError::Empty);
        }
        if name.chars().count() > NAME_MAX {
            return Err(ProfileError::TooLong(NAME_MAX));
        }
        if name.chars().any(char::is_control) {
            return Err(ProfileError::ControlCharacters);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = ProfileError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0
    }
}

/// A phone number as the user wrote it (trimmed): 6 to 15 digits, with `+`, spaces, dashes
/// and parentheses allowed around them. Nothing dials it, so it is not normalised further.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, ProfileError> {
        let phone = raw.trim();
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let allowed = phone.char_indices().all(|(i, c)| {
            c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (c == '+' && i == 0)
        });
        if allowed && (6..=15).contains(&digits) && phone.len() <= 32 {
            Ok(Self(phone.to_owned()))
        } else {
            Err(ProfileError::MalformedPhone)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = ProfileError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> Self {
        phone.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed_and_bounded() {
        assert_eq!(Name::parse("  Ada ").map(String::from), Ok("Ada".into()));
        assert_eq!(Name::parse("   "), Err(ProfileError::Empty));
        assert_eq!(
            Name::parse(&"é".repeat(100)).map(|n| n.as_str().chars().count()),
            Ok(100)
        );
        assert_eq!(
            Name::parse(&"é".repeat(101)),
            Err(ProfileError::TooLong(100))
        );
        assert_eq!(
            Name::parse("Ada\u{7}"),
            Err(ProfileError::ControlCharacters)
        );
    }

    #[test]
    fn a_phone_number_has_six_to_fifteen_digits() {
        assert!(Phone::parse("+44 (20) 7946-0958").is_ok());
        assert!(Phone::parse("12345").is_err());
        assert!(Phone::parse("1234567890123456").is_err());
        assert!(Phone::parse("0800 CALL ME").is_err());
        assert!(Phone::parse("12+3456789").is_err());
    }
}
