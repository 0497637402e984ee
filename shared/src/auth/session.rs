//! Sessions and their refresh tokens (RFC 9700 §4.14.2 rotation with reuse detection).
//!
//! A session is one login on one device: `USER#<user id>` / `SESSION#<session id>`, in the
//! user's own partition, so the one query that reads an authenticated caller (the user and
//! their roles) also tells whether the access token's session is still live: logging out ends
//! a session's access tokens at once, at no extra cost per request. It lives until it has been
//! idle for [`SessionPolicy::idle`] or reached [`SessionPolicy::absolute`], whichever comes
//! first; its item expires then.
//!
//! Every refresh token is `REFRESH#<sha256>` / `REFRESH`, naming its session and whether it is
//! the session's `current` token or was `rotated` already. Refreshing rotates in one
//! transaction: the presented token goes from `current` to `rotated` (conditionally, so of
//! concurrent refreshes exactly one wins), its successor is stored, and the session moves on —
//! only if the session still exists and the presented token is still its current one.
//! Presenting a `rotated` token again means it leaked: the session, and with it every token
//! of its family, ends.
//!
//! Sessions also remember the user's token version at login: bumping the version (logout
//! everywhere, password reset, disabling the account) ends them without touching them.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::auth::opaque::TokenHash;
use crate::store::{
    Condition, Item, ItemStore, Key, MAX_TRANSACTION_WRITES, Query, SortKey, StoreError, Write,
};
use crate::users::repo::user_partition;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle: TimeDelta,
    pub absolute: TimeDelta,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: TimeDelta::days(7),
            absolute: TimeDelta::days(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub token_version: u64,
    /// The hash of the session's current refresh token.
    pub refresh_hash: TokenHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshState {
    Current,
    Rotated,
}

/// A refresh token as stored: its state, and its session as it was when the token was issued.
/// While the token is `current` that is the session as it is now (the two only change
/// together), so a refresh needs no read of the session itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub state: RefreshState,
    pub created_at: DateTime<Utc>,
    pub session: Session,
}

/// The sort key prefix of sessions in their user's partition.
pub const SESSION_PREFIX: &str = "SESSION#";

pub fn session_key(user_id: Uuid, session_id: Uuid) -> Key {
    Key::new(
        user_partition(user_id),
        format!("{SESSION_PREFIX}{session_id}"),
    )
}

pub fn refresh_key(hash: &TokenHash) -> Key {
    Key::new(format!("REFRESH#{}", hash.as_str()), "REFRESH")
}

impl Session {
    /// A new session, its idle expiry capped by its absolute one.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        id: Uuid,
        user_id: Uuid,
        token_version: u64,
        refresh_hash: TokenHash,
        policy: SessionPolicy,
        now: DateTime<Utc>,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> Self {
        let absolute_expires_at = now + policy.absolute;
        Self {
            id,
            user_id,
            created_at: now,
            last_used_at: now,
            expires_at: (now + policy.idle).min(absolute_expires_at),
            absolute_expires_at,
            token_version,
            refresh_hash,
            ip,
            user_agent,
        }
    }

    /// The session after a refresh to `successor` at `now`.
    pub fn refreshed(
        &self,
        successor: TokenHash,
        policy: SessionPolicy,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            last_used_at: now,
            expires_at: (now + policy.idle).min(self.absolute_expires_at),
            refresh_hash: successor,
            ..self.clone()
        }
    }

    fn item(&self) -> Result<Item, StoreError> {
        Ok(Item::from_record(session_key(self.user_id, self.id), self)?
            .expiring_at(self.expires_at))
    }

    fn refresh_item(
        &self,
        hash: &TokenHash,
        state: RefreshState,
        now: DateTime<Utc>,
    ) -> Result<Item, StoreError> {
        let record = RefreshRecord {
            state,
            created_at: now,
            session: self.clone(),
        };
        // Rotated tokens are kept as long as the session could live, to recognise their reuse.
        Ok(Item::from_record(refresh_key(hash), &record)?.expiring_at(self.absolute_expires_at))
    }
}

/// The writes that store a new session and its first refresh token.
pub fn start_writes(session: &Session) -> Result<Vec<Write>, StoreError> {
    Ok(vec![
        Write::put_if(session.item()?, Condition::Absent),
        Write::put_if(
            session.refresh_item(
                &session.refresh_hash,
                RefreshState::Current,
                session.created_at,
            )?,
            Condition::Absent,
        ),
    ])
}

/// The writes of one rotation from `session`'s current token to `next`'s. Fails at index 0
/// when the presented token was rotated meanwhile (a concurrent refresh won), at 2 when the
/// session ended or moved on.
pub fn rotate_writes(
    session: &Session,
    next: &Session,
    now: DateTime<Utc>,
) -> Result<Vec<Write>, StoreError> {
    let was_current = Condition::Equals("state".into(), json!(RefreshState::Current));
    Ok(vec![
        Write::put_if(
            session.refresh_item(&session.refresh_hash, RefreshState::Rotated, now)?,
            was_current,
        ),
        Write::put_if(
            next.refresh_item(&next.refresh_hash, RefreshState::Current, now)?,
            Condition::Absent,
        ),
        Write::put_if(
            next.item()?,
            Condition::Equals("refresh_hash".into(), json!(session.refresh_hash)),
        ),
    ])
}

#[derive(Debug, Clone)]
pub struct SessionRepo<'a> {
    store: &'a dyn ItemStore,
}

impl<'a> SessionRepo<'a> {
    pub fn new(store: &'a dyn ItemStore) -> Self {
        Self { store }
    }

    pub async fn refresh_record(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        match self.store.get(&refresh_key(hash)).await? {
            Some(item) => Ok(Some(item.record()?)),
            None => Ok(None),
        }
    }

    pub async fn get(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<Session>, StoreError> {
        match self.store.get(&session_key(user_id, session_id)).await? {
            Some(item) => Ok(Some(item.record()?)),
            None => Ok(None),
        }
    }

    /// Every live session of a user (of any token version), oldest first.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<Session>, StoreError> {
        let mut sessions = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .query(
                    Query::partition(user_partition(user_id))
                        .sort_key(SortKey::BeginsWith(SESSION_PREFIX.into()))
                        .limit(1000)
                        .after(cursor),
                )
                .await?;
            for item in &page.items {
                sessions.push(item.record::<Session>()?);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        sessions.sort_by_key(|s| s.created_at);
        Ok(sessions)
    }

    /// Ends a session: its refresh tokens stop working with it.
    pub async fn end(&self, user_id: Uuid, session_id: Uuid) -> Result<(), StoreError> {
        self.store
            .delete(&session_key(user_id, session_id), None)
            .await
    }

    /// Ends every session of a user but `keep`; returns how many ended. The deletes go in
    /// transactions of up to [`MAX_TRANSACTION_WRITES`], one round trip for any usual number of
    /// sessions.
    pub async fn end_all_but(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<usize, StoreError> {
        let ending: Vec<Write> = self
            .list(user_id)
            .await?
            .into_iter()
            .filter(|session| Some(session.id) != keep)
            .map(|session| Write::delete(session_key(user_id, session.id)))
            .collect();
        let ended = ending.len();
        let mut ending = ending.into_iter().peekable();
        while ending.peek().is_some() {
            let batch: Vec<Write> = ending.by_ref().take(MAX_TRANSACTION_WRITES).collect();
            self.store.transact(batch).await?;
        }
        Ok(ended)
    }
}
