//! Changing a password while logged in: the current one proves it is the owner asking.

use uuid::Uuid;

use crate::accounts::{AccountError, Accounts, hashing};
use crate::auth::password::{Password, Verified};
use crate::auth::session::SessionRepo;
use crate::messaging::outbox::outbox_write;
use crate::store::StoreError;
use crate::users::User;
use crate::users::events::PasswordChanged;
use crate::users::repo::update_write;

impl Accounts {
    /// Sets a new password and ends every other session of the user; the caller's own
    /// session goes on.
    pub async fn change_password(
        &self,
        user: &User,
        session_id: Uuid,
        current: &str,
        new_password: &Password,
    ) -> Result<(), AccountError> {
        if let Verified::Mismatch = hashing::verify(current, &user.password_hash).await? {
            return Err(AccountError::WrongCurrentPassword);
        }
        let now = self.clock.now();
        let changed = User {
            password_hash: hashing::hash(new_password, self.random.as_ref()).await?,
            updated_at: now,
            ..user.clone()
        };
        let (save, _) = update_write(user, &changed)?;
        let event = self.user_event(user, &PasswordChanged { user_id: user.id });
        match self.store.transact(vec![save, outbox_write(&event)]).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { .. }) => {
                return Err(AccountError::Unexpected(anyhow::anyhow!(
                    "the user changed while their password was changed"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        SessionRepo::new(self.store.as_ref())
            .end_all_but(user.id, Some(session_id))
            .await?;
        tracing::info!(user_id = %user.id, "password changed");
        Ok(())
    }
}
