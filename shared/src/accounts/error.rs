//! What the identity use cases tell their callers.

use std::time::Duration;

use crate::auth::access_token::TokenError;
use crate::auth::keys::KeySetError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the email address is registered already")]
    EmailTaken,
    /// Wrong email or password; which one is never said.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    #[error("the email address is not verified yet")]
    EmailNotVerified,
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("too many attempts")]
    RateLimited { retry_after: Duration },
    /// A verification or reset token that is unknown, expired or used.
    #[error("the token is invalid, expired or used")]
    InvalidToken,
    /// A refresh token that is unknown, expired, or of an ended session.
    #[error("the refresh token is invalid or expired")]
    InvalidRefreshToken,
    /// A refresh token that was rotated already: its session has been ended.
    #[error("the refresh token was used already; its session has been ended")]
    RefreshTokenReused,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("no such resource")]
    NotFound,
    /// The resource changed since the version the caller named (`If-Match`).
    #[error("the resource has changed since the version given")]
    Stale,
    /// The change would leave the system without an active administrator.
    #[error(transparent)]
    LastAdmin(#[from] crate::rbac::admins::LastAdmin),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for AccountError {
    fn from(error: StoreError) -> Self {
        AccountError::Unexpected(error.into())
    }
}

impl From<KeySetError> for AccountError {
    fn from(error: KeySetError) -> Self {
        AccountError::Unexpected(error.into())
    }
}

impl From<TokenError> for AccountError {
    fn from(error: TokenError) -> Self {
        AccountError::Unexpected(error.into())
    }
}

impl crate::auth::throttle::Decision {
    /// Refuses a limited attempt with the time left in its window.
    pub fn or_refuse(self) -> Result<(), AccountError> {
        match self {
            Self::Allowed => Ok(()),
            Self::Limited { retry_after } => Err(AccountError::RateLimited { retry_after }),
        }
    }
}
