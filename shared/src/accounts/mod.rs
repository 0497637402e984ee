//! The identity use cases: registering, verifying an address, logging in, refreshing, logging
//! out, resetting and changing a password, and what a caller may ask about themselves.
//!
//! Each flow is one file over [`Accounts`], the ports they share. Inputs arrive parsed
//! ([`crate::users::Email`], [`crate::auth::password::Password`]), so a use case only decides;
//! the HTTP layer turns [`AccountError`] into problems.

pub mod error;
pub mod hashing;
pub mod login;
pub mod logout;
pub mod password_change;
pub mod refresh;
pub mod register;
pub mod removal;
pub mod reset;
pub mod status;
pub mod update;
pub mod verification;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::access_token::{AccessTokens, IssuedToken};
use crate::auth::key_cache::CachedKeySet;
use crate::auth::session::SessionPolicy;
use crate::clock::{Clock, Random};
use crate::messaging::event::{Event, EventPayload};
use crate::store::ItemStore;
use crate::users::User;

pub use error::AccountError;

/// The ports and settings the identity use cases share.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub store: Arc<dyn ItemStore>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub sessions: SessionPolicy,
}

impl Accounts {
    pub fn new(store: Arc<dyn ItemStore>, clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Self {
        Self {
            store,
            clock,
            random,
            sessions: SessionPolicy::default(),
        }
    }
}

/// What issues access tokens: the token settings and the signing keys.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    pub tokens: AccessTokens,
    pub keys: CachedKeySet,
}

impl Accounts {
    /// A `user.*` event about `user`, for the transaction of the change it describes.
    pub(crate) fn user_event<P: EventPayload>(&self, user: &User, payload: &P) -> Event {
        Event::of(
            self.random.id(),
            user.id.to_string(),
            payload,
            self.clock.now(),
        )
    }
}

impl TokenIssuer {
    /// An access token for `user` in `session_id`, under the user's current token version.
    pub(crate) async fn issue_for(
        &self,
        user: &User,
        session_id: Uuid,
        now: DateTime<Utc>,
        jti: Uuid,
    ) -> Result<IssuedToken, AccountError> {
        let keys = self.keys.get().await?;
        Ok(self.tokens.issue(
            &keys,
            &user.id.to_string(),
            &session_id.to_string(),
            user.token_version,
            now,
            jti,
        )?)
    }
}

/// Who is asking, as far as the request context tells (never from X-Forwarded-For).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The partition of the client's throttle counters; requests without an address share one.
    pub fn ip_partition(&self) -> String {
        crate::auth::throttle::ip_partition(self.ip.as_deref().unwrap_or("unknown"))
    }
}
