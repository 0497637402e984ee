//! Changing a password while logged in: the current one proves it is the owner asking.

use uuid::Uuid;

use crate::accounts::{AccountError, Accounts, ClientInfo, hashing};
use crate::auth::password::{Password, Verified};
use crate::auth::session::SessionRepo;
use crate::auth::throttle::{self, Decision, LOGIN_FAILURES_PER_ACCOUNT};
use crate::messaging::outbox::outbox_write;
use crate::store::{StoreError, Write};
use crate::users::User;
use crate::users::events::PasswordChanged;
use crate::users::repo::{email_key, update_write};

impl Accounts {
    /// Sets a new password and ends every other session of the user; the caller's own
    /// session goes on.
    ///
    /// The current password is checked like a login's: the attempt is counted against the
    /// client and the account (with login's own counters) before the hash, and a right one
    /// clears the account's count. Whoever holds a session's token and guesses beyond the
    /// account's limit is taken to have stolen it: that session ends.
    pub async fn change_password(
        &self,
        user: &User,
        session_id: Uuid,
        current: &str,
        new_password: &Password,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let now = self.clock.now();
        let email_partition = email_key(&user.email).pk;
        let ip_partition = client.ip_partition();
        let attempt =
            throttle::password_attempt(self.store.as_ref(), &ip_partition, &email_partition, now)
                .await?;
        attempt.by_client.or_refuse()?;
        if let Decision::Limited { retry_after } = attempt.by_account {
            SessionRepo::new(self.store.as_ref())
                .end(user.id, session_id)
                .await?;
            tracing::warn!(user_id = %user.id, session_id = %session_id, "too many wrong current passwords: the session is ended");
            return Err(AccountError::RateLimited { retry_after });
        }
        if let Verified::Mismatch = hashing::verify(current, &user.password_hash).await? {
            return Err(AccountError::WrongCurrentPassword);
        }
        let changed = User {
            password_hash: hashing::hash(new_password, self.random.as_ref()).await?,
            updated_at: now,
            ..user.clone()
        };
        let (save, _) = update_write(user, &changed)?;
        let event = self.user_event(user, &PasswordChanged { user_id: user.id });
        let forgiven = Write::delete(LOGIN_FAILURES_PER_ACCOUNT.counter_key(&email_partition, now));
        match self
            .store
            .transact(vec![save, outbox_write(&event), forgiven])
            .await
        {
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
