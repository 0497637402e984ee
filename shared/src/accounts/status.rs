//! Disabling and enabling accounts.

use crate::accounts::update::UserChanges;
use crate::accounts::{AccountError, Accounts};
use crate::users::{User, UserStatus};

impl Accounts {
    /// Sets a user's status: [`Accounts::update_user`] with only the status changing, so
    /// disabling ends the account's sessions and access tokens and keeps the last
    /// administrator. Returns the user as stored.
    pub async fn set_status(&self, read: &User, status: UserStatus) -> Result<User, AccountError> {
        let changes = UserChanges {
            status: Some(status),
            ..UserChanges::default()
        };
        self.update_user(read.id, &changes, None).await
    }
}
