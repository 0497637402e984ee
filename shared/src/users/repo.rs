//! Users in the item store.
//!
//! A user's partition `USER#<id>` holds the user (`USER`), the roles they hold
//! (`ROLE#<role id>`, expiring with the assignment) and their sessions (`SESSION#<id>`, see
//! [`crate::auth::session`]), so everything an authenticated request needs to know about its
//! caller is one query. `EMAIL#<email>` / `EMAIL` claims an address
//! for one user, which makes registration race-free: of two registrations of one address, one
//! transaction fails on the claim. Users are listed through `gsi1` (by status, then creation);
//! while a user's address is unverified they are also in `gsi2` (by creation), which is how the cleanup of abandoned registrations finds them.
//!
//! Both indexes are sharded: a user's entries go under one of [`LIST_SHARDS`] keys, chosen by
//! the random end of their id (`USERS#<status>#<shard>`, `USERS#UNVERIFIED#<shard>`), so no
//! one index key takes every registration (one partition takes about 1,000 writes a second).
//! A reader queries every shard and merges them by creation time. A user's search entries
//! ([`crate::users::search`]) are written and removed with them.

use std::sync::Arc;

use chrono::SecondsFormat;
use serde_json::json;
use uuid::Uuid;

use crate::auth::session::{SESSION_PREFIX, Session};
use crate::rbac::model::Assignment;
use crate::store::{
    Condition, Index, IndexKey, Item, ItemStore, Key, Query, SortKey, StoreError, Write,
};
use crate::users::email::Email;
use crate::users::search;
use crate::users::user::{User, UserStatus};

pub const USER_SK: &str = "USER";
pub const ASSIGNMENT_PREFIX: &str = "ROLE#";

/// How many keys each users index is spread over.
pub const LIST_SHARDS: u8 = 8;

/// The shard of a user's index entries: from the last byte of the id, which is random in the
/// ids this system makes (UUIDv7).
pub fn shard_of(id: Uuid) -> u8 {
    id.as_bytes()[15] % LIST_SHARDS
}

/// The `gsi1` key users of a status are listed under, in one shard.
pub fn list_partition(status: UserStatus, shard: u8) -> String {
    let status = match status {
        UserStatus::Active => "active",
        UserStatus::Disabled => "disabled",
    };
    format!("USERS#{status}#{shard}")
}

/// The `gsi2` key unverified users are under, in one shard.
pub fn unverified_partition(shard: u8) -> String {
    format!("USERS#UNVERIFIED#{shard}")
}

/// The sort key of a user in both indexes: creation time, then id.
pub fn by_creation(user: &User) -> String {
    format!("{}#{}", sort_time(user.created_at), user.id)
}

pub fn user_partition(id: Uuid) -> String {
    format!("USER#{id}")
}

pub fn user_key(id: Uuid) -> Key {
    Key::new(user_partition(id), USER_SK)
}

pub fn email_key(email: &Email) -> Key {
    Key::new(format!("EMAIL#{email}"), "EMAIL")
}

pub fn assignment_key(user_id: Uuid, role_id: Uuid) -> Key {
    Key::new(
        user_partition(user_id),
        format!("{ASSIGNMENT_PREFIX}{role_id}"),
    )
}

/// The item a user is stored as.
pub fn user_item(user: &User) -> Result<Item, StoreError> {
    let shard = shard_of(user.id);
    let sort = by_creation(user);
    let item = Item::from_record(user_key(user.id), user)?.with_index(
        Index::Gsi1,
        IndexKey::new(list_partition(user.status, shard), sort.clone()),
    );
    Ok(if user.email_verified {
        item
    } else {
        item.with_index(
            Index::Gsi2,
            IndexKey::new(unverified_partition(shard), sort),
        )
    })
}

fn sort_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn assignment_item(assignment: &Assignment) -> Result<Item, StoreError> {
    let item = Item::from_record(
        assignment_key(assignment.user_id, assignment.role_id),
        assignment,
    )?;
    Ok(match assignment.expires_at {
        Some(at) => item.expiring_at(at),
        None => item,
    })
}

/// The writes that create a user with their roles. The transaction fails at index 0 when the
/// email address is taken.
pub fn insert_writes(user: &User, roles: &[Assignment]) -> Result<Vec<Write>, StoreError> {
    let mut claim = serde_json::Map::new();
    claim.insert("user_id".into(), json!(user.id));
    let mut writes = vec![
        Write::put_if(Item::new(email_key(&user.email), claim), Condition::Absent),
        Write::put_if(user_item(user)?, Condition::Absent),
    ];
    for assignment in roles {
        writes.push(Write::put(assignment_item(assignment)?));
    }
    writes.extend(search::entry_writes(None, Some(user)));
    Ok(writes)
}

/// The write that replaces `read` with `changed` (at the next version) if nobody saved the user
/// since `read` was read. Returns the user as stored.
pub fn update_write(read: &User, changed: &User) -> Result<(Write, User), StoreError> {
    let stored = User {
        version: read.version + 1,
        ..changed.clone()
    };
    let condition = Condition::Equals("version".into(), json!(read.version));
    Ok((Write::put_if(user_item(&stored)?, condition), stored))
}

/// A user, the roles they hold now, and their live sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct UserWithRoles {
    pub user: User,
    pub assignments: Vec<Assignment>,
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone)]
pub struct UserRepo {
    store: Arc<dyn ItemStore>,
}

impl UserRepo {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Arc<dyn ItemStore> {
        &self.store
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        match self.store.get(&user_key(id)).await? {
            Some(item) => Ok(Some(item.record()?)),
            None => Ok(None),
        }
    }

    /// The id of the user holding an address.
    pub async fn id_by_email(&self, email: &Email) -> Result<Option<Uuid>, StoreError> {
        let Some(item) = self.store.get(&email_key(email)).await? else {
            return Ok(None);
        };
        let id = item
            .attrs
            .get("user_id")
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| {
                StoreError::Unexpected(anyhow::anyhow!("the claim of an email holds no user id"))
            })?;
        Ok(Some(id))
    }

    pub async fn by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        match self.id_by_email(email).await? {
            Some(id) => self.get(id).await,
            None => Ok(None),
        }
    }

    /// Up to `limit` users whose address is still unverified and who registered before
    /// `cutoff`, oldest first (each shard read, the oldest `limit` kept). The index is
    /// eventually consistent on AWS: re-read before acting.
    pub async fn unverified_before(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let reads = (0..LIST_SHARDS).map(|shard| {
            let query = Query::index(Index::Gsi2, unverified_partition(shard))
                .sort_key(SortKey::LessThan(sort_time(cutoff)))
                .limit(limit);
            self.store.query(query)
        });
        let mut users = Vec::new();
        for page in futures_util::future::try_join_all(reads).await? {
            for item in &page.items {
                users.push(item.record::<User>()?);
            }
        }
        users.sort_by_key(by_creation);
        users.truncate(limit);
        Ok(users)
    }

    /// The user, their current roles and live sessions, in one query.
    pub async fn with_roles(&self, id: Uuid) -> Result<Option<UserWithRoles>, StoreError> {
        let mut user = None;
        let mut assignments = Vec::new();
        let mut sessions = Vec::new();
        let mut cursor = None;
        loop {
            let query = Query::partition(user_partition(id))
                .sort_key(SortKey::Any)
                .limit(1000)
                .after(cursor);
            let page = self.store.query(query).await?;
            for item in page.items {
                if item.key.sk == USER_SK {
                    user = Some(item.into_record::<User>()?);
                } else if item.key.sk.starts_with(ASSIGNMENT_PREFIX) {
                    assignments.push(item.into_record::<Assignment>()?);
                } else if item.key.sk.starts_with(SESSION_PREFIX) {
                    sessions.push(item.into_record::<Session>()?);
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(user.map(|user| UserWithRoles {
            user,
            assignments,
            sessions,
        }))
    }
}
