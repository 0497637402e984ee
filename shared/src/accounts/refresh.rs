//! Refreshing: a refresh token for a new pair, rotating it (see [`crate::auth::session`]).
//!
//! Three store calls: the token, the user, and the rotation's transaction.

use crate::accounts::login::SignedIn;
use crate::accounts::{AccountError, Accounts, TokenIssuer};
use crate::auth::opaque::{OpaqueToken, TokenHash};
use crate::auth::session::{RefreshState, SessionRepo, rotate_writes};
use crate::store::StoreError;
use crate::users::UserRepo;

impl Accounts {
    pub async fn refresh(
        &self,
        issuer: &TokenIssuer,
        presented: &str,
    ) -> Result<SignedIn, AccountError> {
        let sessions = SessionRepo::new(self.store.as_ref());
        let Some(record) = sessions.refresh_record(&TokenHash::of(presented)).await? else {
            return Err(AccountError::InvalidRefreshToken);
        };
        let session = record.session;
        if record.state == RefreshState::Rotated {
            sessions.end(session.user_id, session.id).await?;
            tracing::warn!(user_id = %session.user_id, session_id = %session.id, "a rotated refresh token was presented again; its session is ended");
            return Err(AccountError::RefreshTokenReused);
        }
        let users = UserRepo::new(self.store.clone());
        let user = users.get(session.user_id).await?;
        let Some(user) = user.filter(|u| u.is_active() && u.token_version == session.token_version)
        else {
            // Logged out everywhere, reset, disabled or deleted since: the session is over.
            sessions.end(session.user_id, session.id).await?;
            return Err(AccountError::InvalidRefreshToken);
        };
        let now = self.clock.now();
        let successor = OpaqueToken::generate(self.random.as_ref());
        let next = session.refreshed(successor.hash(), self.sessions, now);
        let access = issuer
            .issue_for(&user, session.id, now, self.random.id())
            .await?;
        match self
            .store
            .transact(rotate_writes(&session, &next, now)?)
            .await
        {
            Ok(()) => Ok(SignedIn {
                user,
                session_id: session.id,
                access,
                refresh: successor,
            }),
            // A concurrent refresh of the same token won (or the session ended meanwhile): the
            // token was presented twice, as a replayed one would be, so its session ends like a
            // reused token's (RFC 9700, 4.14.2), the winner's successor with it.
            Err(StoreError::ConditionFailed { .. }) => {
                sessions.end(session.user_id, session.id).await?;
                tracing::warn!(user_id = %session.user_id, session_id = %session.id, "a refresh token was presented twice at once; its session is ended");
                Err(AccountError::RefreshTokenReused)
            }
            Err(e) => Err(e.into()),
        }
    }
}
