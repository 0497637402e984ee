//! Single-use tokens for email verification and password reset.
//!
//! Stored as `ONETIME#<sha256>` / `ONETIME`, expiring with the token; using one deletes it in
//! the same transaction as its effect (conditionally, so two uses race to one winner). A
//! pointer in the user's partition (`USER#<id>` / `ONETIME#<sha256>`, expiring with it) lets
//! the deletion of an account find and remove the tokens still pending for it.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::opaque::{OpaqueToken, TokenHash};
use crate::clock::Random;
use crate::store::{Condition, Item, ItemStore, Key, StoreError, Write};
use crate::users::repo::user_partition;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
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

/// Creates a token for a user and stores its hash; the token itself goes into a mail only.
pub async fn issue(
    store: &dyn ItemStore,
    random: &dyn Random,
    purpose: Purpose,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<OpaqueToken, StoreError> {
    let token = OpaqueToken::generate(random);
    let record = OneTimeRecord {
        purpose,
        user_id,
        created_at: now,
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
