//! Disabling and enabling accounts.

use crate::accounts::{AccountError, Accounts};
use crate::auth::session::SessionRepo;
use crate::store::StoreError;
use crate::users::repo::update_write;
use crate::users::{User, UserRepo, UserStatus};

impl Accounts {
    /// Sets a user's status. Disabling also moves the token version on, so every access token
    /// of the account fails on its next use, and ends its sessions. Returns the user as stored.
    pub async fn set_status(&self, read: &User, status: UserStatus) -> Result<User, AccountError> {
        let mut user = read.clone();
        for _ in 0..3 {
            if user.status == status {
                return Ok(user);
            }
            let disabling = status == UserStatus::Disabled;
            let changed = User {
                status,
                token_version: user.token_version + u64::from(disabling),
                updated_at: self.clock.now(),
                ..user.clone()
            };
            let (save, stored) = update_write(&user, &changed)?;
            match self.store.transact(vec![save]).await {
                Ok(()) => {
                    if disabling {
                        SessionRepo::new(self.store.as_ref())
                            .end_all_but(user.id, None)
                            .await?;
                    }
                    tracing::info!(user_id = %user.id, status = ?status, "account status changed");
                    return Ok(stored);
                }
                Err(StoreError::ConditionFailed { .. }) => {
                    user = UserRepo::new(self.store.clone())
                        .get(user.id)
                        .await?
                        .ok_or(AccountError::NotFound)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AccountError::Unexpected(anyhow::anyhow!(
            "the user kept changing while their status was set"
        )))
    }
}
