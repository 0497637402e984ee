//! Removing an account and everything keyed to it.
//!
//! Deleting is two steps, each safe to repeat. The first is one transaction: the user, their
//! address claim (so the address is free at once), their role assignments, the
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
use crate::auth::session::{SESSION_PREFIX, Session, SessionRepo, refresh_key};
use crate::messaging::outbox::outbox_write;
use crate::rbac::admins::Roster;
use crate::store::{Condition, Query, StoreError, Write};
use crate::users::events::UserDeleted;
use crate::users::repo::{USER_SK, assignment_key, email_key, user_key, user_partition};
use crate::users::{User, UserRepo, search};

/// How many removals one transaction of [`Accounts::erase_remains`] holds.
const ERASE_BATCH: usize = 50;

impl Accounts {
    /// Deletes the user as read (`user`, at its version): the user, their address claim and
    /// role assignments go in one transaction with the `user.deleted` event; then their
    /// sessions end. [`AccountError::NotFound`] when the user is gone or changed since it was
    /// read, so a decision made on an old read never deletes a changed account; the last active
    /// administrator is [`AccountError::LastAdmin`].
    pub async fn delete_user(&self, user: &User) -> Result<(), AccountError> {
        let users = UserRepo::new(self.store.clone());
        let assignments = users
            .with_roles(user.id)
            .await?
            .map(|u| u.assignments)
            .unwrap_or_default();
        let mut committed = false;
        for _ in 0..3 {
            let roster = Roster::read(self.store.as_ref()).await?;
            let mut writes = vec![
                Write::delete_if(
                    user_key(user.id),
                    Condition::Equals("version".into(), json!(user.version)),
                ),
                Write::delete(email_key(&user.email)),
                roster.with_member(user.id, false)?,
            ];
            // Any assignment beyond one batch goes with the remains.
            writes.extend(
                assignments
                    .iter()
                    .take(ERASE_BATCH)
                    .map(|a| Write::delete(assignment_key(user.id, a.role_id))),
            );
            writes.extend(search::entry_writes(Some(user), None));
            let deleted = UserDeleted {
                user_id: user.id,
                avatar_key: user.avatar_key.clone(),
            };
            let event = self.user_event(user, &deleted);
            writes.push(outbox_write(&event));
            match self.store.transact(writes).await {
                Ok(()) => {
                    committed = true;
                    break;
                }
                Err(StoreError::ConditionFailed { index: 0 }) => {
                    return Err(AccountError::NotFound);
                }
                // The roster moved: judge the deletion against the new one.
                Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !committed {
            return Err(AccountError::Unexpected(anyhow::anyhow!(
                "the administrators kept changing while user {} was deleted",
                user.id
            )));
        }
        SessionRepo::new(self.store.as_ref())
            .end_all_but(user.id, None)
            .await?;
        tracing::info!(user_id = %user.id, "account deleted");
        Ok(())
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
