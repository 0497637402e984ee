//! Role and permission names: `ADMIN`, `users:read`.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must match ^[A-Z][A-Z0-9_]{{1,63}}$")]
    Role,
    #[error("must match ^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")]
    Permission,
}

/// A role name: `^[A-Z][A-Z0-9_]{1,63}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleName(String);

impl RoleName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let mut chars = raw.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && (2..=64).contains(&raw.len())
            && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(NameError::Role)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A permission name, `resource:action`: `^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PermissionName(String);

impl PermissionName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        fn segment(s: &str) -> bool {
            let mut chars = s.chars();
            chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }
        match raw.split_once(':') {
            Some((resource, action)) if segment(resource) && segment(action) => {
                Ok(Self(raw.to_owned()))
            }
            _ => Err(NameError::Permission),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn resource(&self) -> &str {
        self.0.split_once(':').map_or("", |(r, _)| r)
    }

    pub fn action(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, a)| a)
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> Self {
                name.0
            }
        }
    };
}

string_newtype!(RoleName);
string_newtype!(PermissionName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_upper_snake_case() {
        for ok in ["ADMIN", "SUPPORT_2", "AB"] {
            assert!(RoleName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["A", "admin", "2FA", "_X", "ADMIN-1", &"A".repeat(65)] {
            assert!(RoleName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn permission_names_are_resource_colon_action() {
        let name = PermissionName::parse("users:read");
        assert_eq!(
            name.as_ref().map(|n| (n.resource(), n.action())),
            Ok(("users", "read"))
        );
        for bad in [
            "users",
            "Users:read",
            "users:",
            ":read",
            "users:read:all",
            "users:re-ad",
            "1x:y",
        ] {
            assert!(PermissionName::parse(bad).is_err(), "{bad}");
        }
    }
}
