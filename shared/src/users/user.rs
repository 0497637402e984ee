//! The user record, and the view of it the API shows.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::users::email::Email;
use crate::users::profile::{Name, Phone};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Disabled,
}

/// A stored argon2id PHC string. Never printed: it is an offline-guessable secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// One account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub email: Email,
    pub name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    pub status: UserStatus,
    pub email_verified: bool,
    pub password_hash: PasswordHash,
    /// Every access token carries the version it was issued under; bumping it ends them all.
    pub token_version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// The blob the avatar is stored as (under `avatars/<id>/`), to delete it when it is
    /// replaced or the user is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic concurrency: every save is conditional on the version read.
    pub version: u64,
}

/// What the API shows of a user: no hash, no versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicUser {
    pub id: Uuid,
    pub email: Email,
    pub name: Name,
    pub phone: Option<Phone>,
    pub status: UserStatus,
    pub email_verified: bool,
    pub avatar_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub fn public(&self) -> PublicUser {
        PublicUser {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            phone: self.phone.clone(),
            status: self.status,
            email_verified: self.email_verified,
            avatar_url: self.avatar_url.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }
}
