//! Password reset: asking for the mail, and setting a new password with its token.

use crate::accounts::{AccountError, Accounts, ClientInfo, hashing};
use crate::auth::one_time::{self, Purpose};
use crate::auth::password::Password;
use crate::auth::session::SessionRepo;
use crate::messaging::outbox::outbox_write;
use crate::store::StoreError;
use crate::users::events::{PasswordChanged, PasswordResetRequested};
use crate::users::repo::update_write;
use crate::users::{Email, User, UserRepo};

impl Accounts {
    /// Asks for a reset mail to the address, which goes out if it belongs to an active
    /// account. The request does the same work and answers the same either way: the mail job
    /// looks the account up.
    pub async fn request_reset(
        &self,
        email: &Email,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        self.throttle_mail(email, client).await?;
        let payload = PasswordResetRequested {
            email: Some(email.clone()),
            user_id: None,
        };
        self.emit_for_address(email, &payload).await
    }

    /// Sets a new password with a reset token. Every session and access token of the user ends
    /// (the token version moves on). The mail proved the address, so it counts as verified.
    pub async fn confirm_reset(
        &self,
        token: &str,
        new_password: &Password,
    ) -> Result<(), AccountError> {
        let Some((record, consume)) =
            one_time::find(self.store.as_ref(), Purpose::ResetPassword, token).await?
        else {
            return Err(AccountError::InvalidToken);
        };
        let users = UserRepo::new(self.store.clone());
        let Some(user) = users
            .get(record.user_id)
            .await?
            .filter(|user| record.fits(user))
        else {
            // Gone, or the password changed since the mail: another token was used, or the
            // user changed it.
            return Err(AccountError::InvalidToken);
        };
        let password_hash = hashing::hash(new_password, self.random.as_ref()).await?;
        let now = self.clock.now();
        let changed = User {
            password_hash,
            token_version: user.token_version + 1,
            email_verified: true,
            updated_at: now,
            ..user.clone()
        };
        let (save, _) = update_write(&user, &changed)?;
        let event = self.user_event(&user, &PasswordChanged { user_id: user.id });
        match self
            .store
            .transact(vec![consume, save, outbox_write(&event)])
            .await
        {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { index: 0 }) => {
                return Err(AccountError::InvalidToken);
            }
            Err(StoreError::ConditionFailed { .. }) => {
                return Err(AccountError::Unexpected(anyhow::anyhow!(
                    "the user changed while their password was reset; the token is still valid"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        // The version bump has ended the sessions already; removing them keeps the list true.
        SessionRepo::new(self.store.as_ref())
            .end_all_but(user.id, None)
            .await?;
        tracing::info!(user_id = %user.id, "password reset");
        Ok(())
    }
}
