//! Removing an account and everything keyed to it.
//!
//! Deleting is two steps, each safe to repeat. The first is one transaction: the user, their
//! address claim (so the address is free at once), their role assignments and sessions, the
//! administrators' roster and the `user.deleted` event. From then on nothing of the account
//! works: every authenticated request and every refresh reads the user first. The second,
//! [`Accounts::erase_remains`], removes what is still keyed to the user id (sessions and their
//! refresh tokens, pending mail tokens, assignments beyond one transaction); it runs as the
//! `erase_user` job the event causes, retried until it succeeds, and finds nothing the second
//! time.

use serde_json::json;
use uuid::Uuid;

use crate::accounts::{AccountError, Accounts};
use crate::auth::one_time::pointed_key;
use crate::auth::session::{SESSION_PREFIX, Session, refresh_key, session_key};
use crate::messaging::outbox::outbox_write;
use crate::rbac::admins::Roster;
use crate::store::{Condition, Query, StoreError, Write};
use crate::users::events::UserDeleted;
use crate::users::repo::UserWithRoles;
use crate::users::repo::{USER_SK, assignment_key, email_key, user_key, user_partition};
use crate::users::{User, UserRepo, search};

/// How many removals one transaction of [`Accounts::erase_remains`] holds.
const ERASE_BATCH: usize = 50;

impl Accounts {
    /// Deletes user `id` and ends their sessions: the account as read now, with its roles and
    /// sessions (one query) and the administrators' roster (read beside it), goes in one
    /// transaction. [`AccountError::NotFound`] when there is no such user; the last active
    /// administrator is [`AccountError::LastAdmin`].
    pub async fn delete_account(&self, id: Uuid) -> Result<(), AccountError> {
        let users = UserRepo::new(self.store.clone());
        for _ in 0..3 {
            let (read, roster) =
                tokio::join!(users.with_roles(id), Roster::read(self.store.as_ref()));
            let read = read?.ok_or(AccountError::NotFound)?;
            match self.delete_read(&read, &roster?).await {
                // Changed since it was read, or the roster moved: read both again.
                Err(AccountError::Stale) => continue,
                other => return other,
            }
        }
        Err(AccountError::Unexpected(anyhow::anyhow!(
            "user {id} kept changing while it was being deleted"
        )))
    }

    /// Deletes the user as read (`user`, at its version), for a decision made on that read
    /// (the cleanup of abandoned registrations): [`AccountError::NotFound`] when the user is
    /// gone or changed since, so an old read never deletes a changed account.
    pub async fn delete_user(&self, user: &User) -> Result<(), AccountError> {
        let users = UserRepo::new(self.store.clone());
        for _ in 0..3 {
            let (read, roster) =
                tokio::join!(users.with_roles(user.id), Roster::read(self.store.as_ref()));
            let read = read?
                .filter(|read| read.user.version == user.version)
                .ok_or(AccountError::NotFound)?;
            match self.delete_read(&read, &roster?).await {
                Err(AccountError::Stale) => continue,
                other => return other,
            }
        }
        Err(AccountError::NotFound)
    }

    /// The transaction of a deletion, over the user and roster as read: the user (conditional
    /// on its version), the address claim, the roster without them, their assignments,
    /// sessions and search entries (a batch of each; the rest goes with the remains), and the
    /// `user.deleted` event. [`AccountError::Stale`] when anything read changed meanwhile.
    async fn delete_read(&self, read: &UserWithRoles, roster: &Roster) -> Result<(), AccountError> {
        let user = &read.user;
        let mut writes = vec![
            Write::delete_if(
                user_key(user.id),
                Condition::Equals("version".into(), json!(user.version)),
            ),
            Write::delete(email_key(&user.email)),
            roster.with_member(user.id, false)?,
        ];
        writes.extend(
            read.assignments
                .iter()
                .take(ERASE_BATCH)
                .map(|a| Write::delete(assignment_key(user.id, a.role_id))),
        );
        writes.extend(
            read.sessions
                .iter()
                .take(ERASE_BATCH)
                .map(|session| Write::delete(session_key(user.id, session.id))),
        );
        writes.extend(search::entry_writes(Some(user), None));
        let deleted = UserDeleted {
            user_id: user.id,
            avatar_key: user.avatar_key.clone(),
        };
        writes.push(outbox_write(&self.user_event(user, &deleted)));
        match self.store.transact(writes).await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, "account deleted");
                Ok(())
            }
            Err(StoreError::ConditionFailed { .. }) => Err(AccountError::Stale),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes everything still keyed to a deleted user: the items of their partition
    /// (sessions, assignments, pointers to pending mail tokens), the current refresh token of
    /// each session and the mail tokens pointed at. Returns how many items it removed; 0 when
    /// nothing was left. A user who exists is refused: this never touches a live account.
    pub async fn erase_remains(&self, user_id: Uuid) -> Result<usize, AccountError> {
        let mut removed = 0;
        loop {
            let page = self
                .store
                .query(Query::partition(user_partition(user_id)).limit(ERASE_BATCH))
                .await?;
            if page.items.is_empty() {
                break;
            }
            let mut writes = Vec::new();
            for item in &page.items {
                if item.key.sk == USER_SK {
                    return Err(AccountError::Unexpected(anyhow::anyhow!(
                        "user {user_id} exists: nothing of theirs is erased"
                    )));
                }
                if item.key.sk.starts_with(SESSION_PREFIX) {
                    let session: Session = item.record()?;
                    writes.push(Write::delete(refresh_key(&session.refresh_hash)));
                }
                if let Some(token) = pointed_key(&item.key) {
                    writes.push(Write::delete(token));
                }
                writes.push(Write::delete(item.key.clone()));
            }
            removed += writes.len();
            self.store.transact(writes).await?;
        }
        if removed > 0 {
            tracing::info!(user_id = %user_id, removed, "remains of a deleted account erased");
        }
        Ok(removed)
    }
}
