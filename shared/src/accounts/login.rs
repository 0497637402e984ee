//! Logging in: email and password for a session, an access token and a refresh token.
//!
//! The store is asked three times in sequence: the email's partition (its claim) together
//! with the increments of the client's and the account's attempt counters, then the user's
//! partition (the user and its sessions), then the new session in one transaction, which also
//! clears the account's count. A wrong password and an unknown address cost one argon2id
//! verification each and answer alike; a malformed address, which can never be an account,
//! answers the same at once.
//!
//! A user keeps at most [`MAX_SESSIONS`] live sessions: the transaction that starts one more
//! ends the least recently used. Every authenticated request reads the user's sessions with
//! the user, so their number is that read's size.

use uuid::Uuid;

use crate::accounts::logout::live;
use crate::accounts::{AccountError, Accounts, ClientInfo, TokenIssuer, hashing};
use crate::auth::access_token::IssuedToken;
use crate::auth::opaque::OpaqueToken;
use crate::auth::password::Verified;
use crate::auth::session::{Session, session_key, start_writes};
use crate::auth::throttle::{self, LOGIN_FAILURES_PER_ACCOUNT, LOGINS_PER_IP};
use crate::store::{Query, SortKey, Write};
use crate::users::repo::{email_key, update_write};
use crate::users::{Email, User, UserRepo, UserStatus};

/// The most live sessions a user keeps; a login beyond them ends the least recently used.
pub const MAX_SESSIONS: usize = 10;

/// A new session and its first tokens.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub session_id: Uuid,
    pub access: IssuedToken,
    pub refresh: OpaqueToken,
}

impl Accounts {
    pub async fn login(
        &self,
        issuer: &TokenIssuer,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SignedIn, AccountError> {
        let now = self.clock.now();
        let ip_partition = client.ip_partition();
        let Ok(email) = Email::parse(email) else {
            // A malformed address can never be an account: counted against the client, and
            // answered at once, with no hash for anyone to make us compute.
            throttle::hit(self.store.as_ref(), &LOGINS_PER_IP, &ip_partition, now)
                .await?
                .or_refuse()?;
            return Err(AccountError::InvalidCredentials);
        };
        let email_partition = email_key(&email).pk;
        // Every attempt is counted against the account before its password is checked, and
        // decided on the count the increment returns: parallel guesses each see their own
        // place in line, so no more than the limit reach the hash. A success clears the count.
        let (by_ip, by_account, partition) = tokio::join!(
            throttle::hit(self.store.as_ref(), &LOGINS_PER_IP, &ip_partition, now),
            throttle::hit(
                self.store.as_ref(),
                &LOGIN_FAILURES_PER_ACCOUNT,
                &email_partition,
                now
            ),
            self.store.query(
                Query::partition(&email_partition)
                    .sort_key(SortKey::Any)
                    .limit(100)
            ),
        );
        by_ip?.or_refuse()?;
        by_account?.or_refuse()?;
        let partition = partition?;
        let claim = email_key(&email);
        let user_id = partition
            .items
            .iter()
            .find(|item| item.key == claim)
            .and_then(|item| item.attrs.get("user_id"))
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok());
        let users = UserRepo::new(self.store.clone());
        let read = match user_id {
            Some(id) => users.with_roles(id).await?,
            None => None,
        };
        let Some(read) = read else {
            hashing::verify_nobody(password).await?;
            return Err(AccountError::InvalidCredentials);
        };
        let user = read.user;
        let needs_rehash = match hashing::verify(password, &user.password_hash).await? {
            Verified::Match { needs_rehash } => needs_rehash,
            Verified::Mismatch => return Err(AccountError::InvalidCredentials),
        };
        // Only someone who knows the password learns the account's state.
        if user.status == UserStatus::Disabled {
            return Err(AccountError::AccountDisabled);
        }
        if !user.email_verified {
            return Err(AccountError::EmailNotVerified);
        }
        let mut also = least_recently_used(&user, &read.sessions);
        also.push(Write::delete(
            LOGIN_FAILURES_PER_ACCOUNT.counter_key(&email_partition, now),
        ));
        let rehash = needs_rehash.then_some(password);
        self.start_session(issuer, user, rehash, client, also).await
    }

    /// Stores the password hashed with the current parameters. Best effort: a login does not
    /// fail because the upgrade lost a race; the next one tries again.
    async fn rehash(&self, user: &User, password: &str) {
        // The candidate matched, so it is the password, whatever rules it was set under.
        let password = crate::auth::password::Password::rehashable(password);
        let result = async {
            let changed = User {
                password_hash: hashing::hash(&password, self.random.as_ref()).await?,
                ..user.clone()
            };
            let (save, _) = update_write(user, &changed)?;
            self.store.transact(vec![save]).await?;
            Ok::<_, AccountError>(())
        }
        .await;
        match result {
            Ok(()) => tracing::info!(user_id = %user.id, "password hash upgraded"),
            Err(error) => {
                tracing::warn!(user_id = %user.id, error = %error, "could not upgrade a password hash")
            }
        }
    }

    /// Stores a new session, with `also` in its transaction, and issues its tokens.
    async fn start_session(
        &self,
        issuer: &TokenIssuer,
        user: User,
        rehash: Option<&str>,
        client: &ClientInfo,
        also: Vec<Write>,
    ) -> Result<SignedIn, AccountError> {
        let now = self.clock.now();
        let refresh = OpaqueToken::generate(self.random.as_ref());
        let session = Session::start(
            self.random.id(),
            user.id,
            user.token_version,
            refresh.hash(),
            self.sessions,
            now,
            client.ip.clone(),
            client.user_agent.clone(),
        );
        let mut writes = start_writes(&session)?;
        writes.extend(also);
        let access = issuer
            .issue_for(&user, session.id, now, self.random.id())
            .await?;
        self.store.transact(writes).await?;
        tracing::info!(user_id = %user.id, session_id = %session.id, "logged in");
        if let Some(password) = rehash {
            self.rehash(&user, password).await;
        }
        Ok(SignedIn {
            user,
            session_id: session.id,
            access,
            refresh,
        })
    }
}

/// The deletes that leave room for one more session among `sessions`: the least recently used
/// live ones beyond [`MAX_SESSIONS`] - 1 (at most 50 at once, so the transaction stays within
/// its limit; later logins end the rest).
fn least_recently_used(user: &User, sessions: &[Session]) -> Vec<Write> {
    let mut live: Vec<&Session> = live(user, sessions).collect();
    let excess = (live.len() + 1).saturating_sub(MAX_SESSIONS).min(50);
    live.sort_by_key(|s| s.last_used_at);
    live.iter()
        .take(excess)
        .map(|s| Write::delete(session_key(user.id, s.id)))
        .collect()
}
