//! Email verification: asking for the mail again, and using its token.

use crate::accounts::{AccountError, Accounts, ClientInfo};
use crate::auth::one_time::{self, Purpose};
use crate::auth::throttle::{self, Decision, MAILS_PER_EMAIL, MAILS_PER_IP};
use crate::messaging::event::{Event, EventPayload};
use crate::messaging::outbox::outbox_write;
use crate::store::StoreError;
use crate::users::events::EmailVerificationRequested;
use crate::users::repo::{email_key, update_write};
use crate::users::{Email, User, UserRepo};

/// How often a verification races a concurrent change of the same user before giving up.
const ATTEMPTS: usize = 3;

impl Accounts {
    /// Marks the address of the token's user verified and uses the token up.
    pub async fn verify_email(&self, token: &str) -> Result<User, AccountError> {
        let users = UserRepo::new(self.store.clone());
        for _ in 0..ATTEMPTS {
            let Some((record, consume)) =
                one_time::find(self.store.as_ref(), Purpose::VerifyEmail, token).await?
            else {
                return Err(AccountError::InvalidToken);
            };
            let Some(user) = users
                .get(record.user_id)
                .await?
                .filter(|user| record.fits(user))
            else {
                // Gone, verified with another token, or at another address now.
                return Err(AccountError::InvalidToken);
            };
            let changed = User {
                email_verified: true,
                updated_at: self.clock.now(),
                ..user.clone()
            };
            let (save, stored) = update_write(&user, &changed)?;
            match self.store.transact(vec![consume, save]).await {
                Ok(()) => return Ok(stored),
                // Used by a concurrent request.
                Err(StoreError::ConditionFailed { index: 0 }) => {
                    return Err(AccountError::InvalidToken);
                }
                // The user changed meanwhile: read again.
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AccountError::Unexpected(anyhow::anyhow!(
            "the user kept changing while their address was verified"
        )))
    }

    /// Sends a new verification mail if the address belongs to an unverified, active account.
    /// The answer is the same whether it does or not.
    pub async fn resend_verification(
        &self,
        email: &Email,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        self.throttle_mail(email, client).await?;
        let payload = EmailVerificationRequested {
            email: Some(email.clone()),
            user_id: None,
        };
        self.emit_for_address(email, &payload).await
    }

    /// Mails asked for by address (verification, reset) are throttled per client and per
    /// address, whether the address is known or not.
    pub(crate) async fn throttle_mail(
        &self,
        email: &Email,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let now = self.clock.now();
        let email_partition = email_key(email).pk;
        let ip_partition = client.ip_partition();
        let rules = [
            (&MAILS_PER_IP, ip_partition.as_str()),
            (&MAILS_PER_EMAIL, email_partition.as_str()),
        ];
        if let Decision::Limited { retry_after } =
            throttle::hit_each(self.store.as_ref(), &rules, now).await?
        {
            return Err(AccountError::RateLimited { retry_after });
        }
        Ok(())
    }

    /// Publishes an event about whatever account has `email`, if any, on its own.
    pub(crate) async fn emit_for_address<P: EventPayload>(
        &self,
        email: &Email,
        payload: &P,
    ) -> Result<(), AccountError> {
        let event = Event::of(
            self.random.id(),
            email_key(email).pk,
            payload,
            self.clock.now(),
        );
        self.store.transact(vec![outbox_write(&event)]).await?;
        Ok(())
    }
}
