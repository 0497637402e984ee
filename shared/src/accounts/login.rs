//! Logging in: email and password for a session, an access token and a refresh token.
//!
//! The store is asked three times in sequence: the email's claim together with the increments
//! of the client's and the account's attempt counters, then the user's partition (the user and
//! its sessions), then the new session in one transaction, which also clears the account's
//! count and holds only if the user is still as read. A wrong password
//! and an unknown address cost the same reads and one argon2id verification each, and answer
//! alike; a malformed address, which can never be an account, answers the same at once.
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
use serde_json::json;

use crate::store::{Condition, Key, StoreError, Write};
use crate::users::repo::{email_key, update_write, user_key};
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
        // Counted before the hash; a success clears the account's count (in `sign_in`).
        let users = UserRepo::new(self.store.clone());
        let (attempt, user_id) = tokio::join!(
            throttle::password_attempt(self.store.as_ref(), &ip_partition, &email_partition, now),
            users.id_by_email(&email),
        );
        let attempt = attempt?;
        attempt.by_client.or_refuse()?;
        attempt.by_account.or_refuse()?;
        let Some(user_id) = user_id? else {
            // The read a known address makes next, of a partition that holds nothing, so an
            // unknown address costs the same round trips as a known one with a wrong password.
            users.with_roles(self.random.id()).await?;
            hashing::verify_nobody(password).await?;
            return Err(AccountError::InvalidCredentials);
        };
        let counter = LOGIN_FAILURES_PER_ACCOUNT.counter_key(&email_partition, now);
        // A change to the user between its read and the new session's commit (a password
        // change, a disable, a logout everywhere) fails the commit; the login starts over from
        // the read, once, and answers as the user now is.
        for _ in 0..2 {
            match self
                .sign_in(issuer, user_id, password, client, &counter)
                .await?
            {
                Attempt::SignedIn(signed_in) => return Ok(*signed_in),
                Attempt::UserChanged => continue,
            }
        }
        Err(anyhow::anyhow!("the user changed during each of two logins in a row").into())
    }

    /// Checks the password against the user as read now and starts a session on that read.
    async fn sign_in(
        &self,
        issuer: &TokenIssuer,
        user_id: Uuid,
        password: &str,
        client: &ClientInfo,
        counter: &Key,
    ) -> Result<Attempt, AccountError> {
        let Some(read) = UserRepo::new(self.store.clone())
            .with_roles(user_id)
            .await?
        else {
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
        // Ending a session must outlast a power cut as any revocation does: a login that evicts
        // one does not commit fail-safe.
        let fail_safe = also.is_empty();
        // The password was right: the account's failures are forgiven.
        also.push(Write::delete(counter.clone()));
        let rehash = needs_rehash.then_some(password);
        self.start_session(issuer, user, rehash, client, also, fail_safe)
            .await
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

    /// Stores a new session, with `also` in its transaction, if the user is still as read;
    /// and issues its tokens. `fail_safe` when losing the transaction to a power cut would
    /// only lose the session (`ItemStore::transact_fail_safe`).
    async fn start_session(
        &self,
        issuer: &TokenIssuer,
        user: User,
        rehash: Option<&str>,
        client: &ClientInfo,
        also: Vec<Write>,
        fail_safe: bool,
    ) -> Result<Attempt, AccountError> {
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
        let unchanged = writes.len();
        writes.push(Write::Check {
            key: user_key(user.id),
            condition: Condition::Equals("version".into(), json!(user.version)),
        });
        let access = issuer
            .issue_for(&user, session.id, now, self.random.id())
            .await?;
        // Were the session lost to a power cut after this returns, its tokens would be refused
        // and the user would sign in again; the forgiven failures would only count again.
        let committed = match fail_safe {
            true => self.store.transact_fail_safe(writes).await,
            false => self.store.transact(writes).await,
        };
        match committed {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { index }) if index == unchanged => {
                return Ok(Attempt::UserChanged);
            }
            Err(error) => return Err(error.into()),
        }
        tracing::info!(user_id = %user.id, session_id = %session.id, "logged in");
        if let Some(password) = rehash {
            self.rehash(&user, password).await;
        }
        Ok(Attempt::SignedIn(Box::new(SignedIn {
            user,
            session_id: session.id,
            access,
            refresh,
        })))
    }
}

/// How one try at starting a session ended.
enum Attempt {
    SignedIn(Box<SignedIn>),
    /// The user changed after it was read: nothing was stored.
    UserChanged,
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
