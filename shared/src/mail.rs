//! The mailer port: outgoing mail (SES on AWS, a mailbox on disk locally).

use std::fmt;

use async_trait::async_trait;

/// One outgoing mail. The sender is the mailer's configured address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The provider refused this mail for good (bad address, rejected content); retrying the
    /// same mail will not help.
    #[error("the mail was rejected: {0}")]
    Rejected(String),
    /// The provider will not send for now, for a reason an operator can fix: the sender is
    /// not verified, the account may send only to verified recipients (SES's sandbox), or
    /// sending is paused. Retrying after the fix sends the mail.
    #[error("the mail provider refused to send: {0}")]
    Refused(String),
    /// Anything else; retrying later may help.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[async_trait]
pub trait Mailer: Send + Sync + fmt::Debug {
    /// Sends the mail and returns the provider's message id.
    async fn send(&self, mail: &Mail) -> Result<String, MailError>;
}
