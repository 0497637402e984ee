//! Single-use tokens for email verification and password reset.
//!
//! Stored as `ONETIME#<sha256>` / `ONETIME`, expiring with the token; using one deletes it in
//! the same transaction as its effect (conditionally, so two uses race to one winner). A
//! pointer in the user's partition (`USER#<id>` / `ONETIME#<sha256>`, expiring with it) lets
//! the deletion of an account find and remove the tokens still pending for it.
//!
//! A token is also bound to what it acts on: a reset token to the password it was issued
//! against, a verification token to the unverified address it was mailed to. Using any token
//! of a user changes that (a new password, a verified address), and so does a password change,
//! so every other token of the same purpose stops working at once; no list of outstanding
//! tokens needs to be found and deleted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::opaque::{OpaqueToken, TokenHash};
use crate::clock::Random;
use crate::store::{Condition, Item, ItemStore, Key, StoreError, Write};
use crate::users::User;
use crate::users::repo::user_partition;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    /// What a token of this purpose acts on, as a digest: the password hash for a reset, the
    /// address and that it is unverified for a verification.
    pub fn binding(self, user: &User) -> String {
        let bound = match self {
            Purpose::ResetPassword => format!("password\n{}", user.password_hash.0),
            Purpose::VerifyEmail => format!("address\n{}\n{}", user.email, user.email_verified),
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(bound.as_bytes()))
    }

    pub fn lifetime(self) -> TimeDelta {
        match self {
            Purpose::VerifyEmail => TimeDelta::hours(24),
            Purpose::ResetPassword => TimeDelta::hours(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeRecord {
    pub purpose: Purpose,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// [`Purpose::binding`] of the user when the token was issued. Tokens issued before
    /// bindings existed have none, and expire within a day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
}

impl OneTimeRecord {
    /// Whether the token still fits `user`: what it was issued against has not changed.
    pub fn fits(&self, user: &User) -> bool {
        self.user_id == user.id
            && self
                .binding
                .as_ref()
                .is_none_or(|binding| *binding == self.purpose.binding(user))
    }
}

pub const POINTER_PREFIX: &str = "ONETIME#";

pub fn one_time_key(hash: &TokenHash) -> Key {
    Key::new(format!("{POINTER_PREFIX}{}", hash.as_str()), "ONETIME")
}

/// The pointer to a pending token, in its user's partition.
pub fn pointer_key(user_id: Uuid, hash: &TokenHash) -> Key {
    Key::new(
        user_partition(user_id),
        format!("{POINTER_PREFIX}{}", hash.as_str()),
    )
}

/// The token a pointer of a user's partition points at (its sort key names the hash).
pub fn pointed_key(pointer: &Key) -> Option<Key> {
    let hash = pointer.sk.strip_prefix(POINTER_PREFIX)?;
    Some(Key::new(format!("{POINTER_PREFIX}{hash}"), "ONETIME"))
}

/// Creates a token for a user, bound to the user as it is, and stores its hash; the token
/// itself goes into a mail only.
pub async fn issue(
    store: &dyn ItemStore,
    random: &dyn Random,
    purpose: Purpose,
    user: &User,
    now: DateTime<Utc>,
) -> Result<OpaqueToken, StoreError> {
    let token = OpaqueToken::generate(random);
    let user_id = user.id;
    let record = OneTimeRecord {
        purpose,
        user_id,
        created_at: now,
        binding: Some(purpose.binding(user)),
    };
    let expires_at = now + purpose.lifetime();
    let item = Item::from_record(one_time_key(&token.hash()), &record)?.expiring_at(expires_at);
    let pointer =
        Item::new(pointer_key(user_id, &token.hash()), Default::default()).expiring_at(expires_at);
    store
        .transact(vec![
            Write::put_if(item, Condition::Absent),
            Write::put(pointer),
        ])
        .await?;
    Ok(token)
}

/// The live record of a presented token of this purpose (missing, expired, used, or of the
/// other purpose: `None`), with the write that uses it up.
pub async fn find(
    store: &dyn ItemStore,
    purpose: Purpose,
    presented: &str,
) -> Result<Option<(OneTimeRecord, Write)>, StoreError> {
    let key = one_time_key(&TokenHash::of(presented));
    let Some(item) = store.get(&key).await? else {
        return Ok(None);
    };
    let record: OneTimeRecord = item.record()?;
    if record.purpose != purpose {
        return Ok(None);
    }
    Ok(Some((record, Write::delete_if(key, Condition::Present))))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::users::user::PasswordHash;
    use crate::users::{Email, Name, UserStatus};

    fn user() -> User {
        let at = Utc.timestamp_opt(1_700_000_000, 0).single().unwrap();
        User {
            id: Uuid::from_u128(7),
            email: Email::parse("ada@example.com").unwrap(),
            name: Name::parse("Ada").unwrap(),
            phone: None,
            status: UserStatus::Active,
            email_verified: false,
            password_hash: PasswordHash("$argon2id$first".into()),
            token_version: 0,
            avatar_url: None,
            avatar_key: None,
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    fn record(purpose: Purpose, user: &User) -> OneTimeRecord {
        OneTimeRecord {
            purpose,
            user_id: user.id,
            created_at: user.created_at,
            binding: Some(purpose.binding(user)),
        }
    }

    #[test]
    fn a_reset_token_fits_the_password_it_was_issued_against_only() {
        let before = user();
        let token = record(Purpose::ResetPassword, &before);
        let renamed = User {
            name: Name::parse("Ada L.").unwrap(),
            version: 2,
            ..before.clone()
        };
        assert!(token.fits(&before) && token.fits(&renamed));
        let changed = User {
            password_hash: PasswordHash("$argon2id$second".into()),
            ..before.clone()
        };
        assert!(!token.fits(&changed));
        let other = User {
            id: Uuid::from_u128(8),
            ..before
        };
        assert!(!token.fits(&other));
    }

    #[test]
    fn a_verification_token_fits_an_unverified_address_it_was_mailed_to() {
        let before = user();
        let token = record(Purpose::VerifyEmail, &before);
        assert!(token.fits(&before));
        let verified = User {
            email_verified: true,
            ..before.clone()
        };
        assert!(!token.fits(&verified));
        let moved = User {
            email: Email::parse("ada@example.org").unwrap(),
            ..before
        };
        assert!(!token.fits(&moved));
    }

    #[test]
    fn a_token_issued_before_bindings_still_fits_its_user() {
        let user = user();
        let legacy = OneTimeRecord {
            binding: None,
            ..record(Purpose::ResetPassword, &user)
        };
        assert!(legacy.fits(&user));
    }
}
