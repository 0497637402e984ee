//! Changing a user's profile fields and status, without losing a concurrent change.

use uuid::Uuid;

use crate::accounts::{AccountError, Accounts};
use crate::auth::session::SessionRepo;
use crate::rbac::admins::{Roster, counts_as_admin};
use crate::store::StoreError;
use crate::users::repo::update_write;
use crate::users::search;
use crate::users::{Name, Phone, User, UserRepo, UserStatus};

/// The fields a change sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub name: Option<Name>,
    /// `Some(None)` clears the phone number.
    pub phone: Option<Option<Phone>>,
    pub status: Option<UserStatus>,
}

impl UserChanges {
    /// The user with these changes applied; disabling also moves the token version on, so every
    /// access token of the account fails on its next use.
    fn apply(&self, user: &User, now: chrono::DateTime<chrono::Utc>) -> User {
        let status = self.status.unwrap_or(user.status);
        let disabling = status == UserStatus::Disabled && user.status != UserStatus::Disabled;
        User {
            name: self.name.clone().unwrap_or_else(|| user.name.clone()),
            phone: self.phone.clone().unwrap_or_else(|| user.phone.clone()),
            status,
            token_version: user.token_version + u64::from(disabling),
            updated_at: now,
            ..user.clone()
        }
    }
}

impl Accounts {
    /// Applies `changes` to user `id`, conditional on the version it was read at, so no
    /// concurrent change is lost. With `expected_version` (an `If-Match`), a user at any other
    /// version is [`AccountError::Stale`]; without it, a concurrent change is read again and the
    /// changes applied over it. Disabling ends the user's sessions; disabling the last active
    /// administrator is [`AccountError::LastAdmin`]. Returns the user as stored.
    pub async fn update_user(
        &self,
        id: Uuid,
        changes: &UserChanges,
        expected_version: Option<u64>,
    ) -> Result<User, AccountError> {
        let users = UserRepo::new(self.store.clone());
        for _ in 0..3 {
            // Only a status change needs the user's roles (for the administrators' roster);
            // a profile change reads the user alone.
            let (user, assignments) = if changes.status.is_some() {
                let read = users.with_roles(id).await?.ok_or(AccountError::NotFound)?;
                (read.user, read.assignments)
            } else {
                (
                    users.get(id).await?.ok_or(AccountError::NotFound)?,
                    Vec::new(),
                )
            };
            if expected_version.is_some_and(|v| v != user.version) {
                return Err(AccountError::Stale);
            }
            let changed = changes.apply(&user, self.clock.now());
            let (save, stored) = update_write(&user, &changed)?;
            let mut writes = vec![save];
            writes.extend(search::entry_writes(Some(&user), Some(&stored)));
            if stored.status != user.status {
                // A status change may move the user in or out of the administrators.
                let roster = Roster::read(self.store.as_ref()).await?;
                let admin = counts_as_admin(&stored, &assignments);
                writes.push(roster.with_member(id, admin)?);
            }
            match self.store.transact(writes).await {
                Ok(()) => {
                    if stored.token_version != user.token_version {
                        SessionRepo::new(self.store.as_ref())
                            .end_all_but(id, None)
                            .await?;
                    }
                    tracing::info!(user_id = %id, version = stored.version, "user changed");
                    return Ok(stored);
                }
                Err(StoreError::ConditionFailed { index: 0 }) if expected_version.is_some() => {
                    return Err(AccountError::Stale);
                }
                // Changed (or removed) since it was read, or the roster moved: read again.
                Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(AccountError::Unexpected(anyhow::anyhow!(
            "user {id} kept changing while it was being changed"
        )))
    }
}
