//! Ending sessions: this one, one of the caller's, or all of them.

use uuid::Uuid;

use crate::accounts::{AccountError, Accounts};
use crate::auth::opaque::TokenHash;
use crate::auth::session::{Session, SessionRepo};
use crate::store::StoreError;
use crate::users::User;
use crate::users::repo::update_write;

impl Accounts {
    /// Ends the session of a presented refresh token when it is the caller's, else the session
    /// the caller's access token belongs to.
    pub async fn logout(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        refresh_token: Option<&str>,
    ) -> Result<(), AccountError> {
        let sessions = SessionRepo::new(self.store.as_ref());
        let mut target = session_id;
        if let Some(token) = refresh_token
            && let Some(record) = sessions.refresh_record(&TokenHash::of(token)).await?
            && record.session.user_id == user_id
        {
            target = record.session.id;
        }
        sessions.end(user_id, target).await?;
        Ok(())
    }

    /// Ends every session of the user and every access token issued so far (the token version
    /// moves on). `user` is the caller as read for this request.
    pub async fn logout_all(&self, user: &User) -> Result<(), AccountError> {
        self.bump_token_version(user).await?;
        SessionRepo::new(self.store.as_ref())
            .end_all_but(user.id, None)
            .await?;
        Ok(())
    }

    /// Moves the user's token version on, re-reading on a concurrent change.
    pub async fn bump_token_version(&self, read: &User) -> Result<User, AccountError> {
        let mut user = read.clone();
        for _ in 0..3 {
            let changed = User {
                token_version: user.token_version + 1,
                updated_at: self.clock.now(),
                ..user.clone()
            };
            let (save, stored) = update_write(&user, &changed)?;
            match self.store.transact(vec![save]).await {
                Ok(()) => return Ok(stored),
                Err(StoreError::ConditionFailed { .. }) => {
                    user = crate::users::UserRepo::new(self.store.clone())
                        .get(user.id)
                        .await?
                        .ok_or(AccountError::NotFound)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AccountError::Unexpected(anyhow::anyhow!(
            "the user kept changing while their tokens were revoked"
        )))
    }

    /// Ends one of the user's sessions, given the sessions read with the user;
    /// [`AccountError::NotFound`] when it is not among them.
    pub async fn end_session(
        &self,
        user: &User,
        sessions: &[Session],
        session_id: Uuid,
    ) -> Result<(), AccountError> {
        if !live(user, sessions).any(|s| s.id == session_id) {
            return Err(AccountError::NotFound);
        }
        SessionRepo::new(self.store.as_ref())
            .end(user.id, session_id)
            .await?;
        Ok(())
    }
}

/// The sessions of the user's current token version, oldest first: the others ended with a
/// version bump, even if their items have not been removed yet.
pub fn live<'a>(user: &'a User, sessions: &'a [Session]) -> impl Iterator<Item = &'a Session> {
    sessions
        .iter()
        .filter(move |s| s.token_version == user.token_version)
}
