//! Removing an account and everything keyed to it.

use serde_json::json;

use crate::accounts::{AccountError, Accounts};
use crate::auth::session::SessionRepo;
use crate::messaging::outbox::outbox_write;
use crate::rbac::admins::Roster;
use crate::store::{Condition, StoreError, Write};
use crate::users::events::UserDeleted;
use crate::users::repo::{assignment_key, email_key, user_key};
use crate::users::{User, UserRepo};

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
            writes.extend(
                assignments
                    .iter()
                    .map(|a| Write::delete(assignment_key(user.id, a.role_id))),
            );
            let event = self.user_event(user, &UserDeleted { user_id: user.id });
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
}
