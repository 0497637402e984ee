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

    /// Sends the mail unless a mail was sent under `key` already, and returns the message id
    /// of the mail sent under it. For a sender that may run again after it sent: a job attempt
    /// that dies between sending and recording that it sent is attempted again.
    ///
    /// Only a provider that keeps its sends by key can do this; SES cannot (its `SendEmail`
    /// takes no idempotency token), so there this is [`Mailer::send`] and such a retry sends
    /// the mail a second time.
    async fn send_once(&self, key: &str, mail: &Mail) -> Result<String, MailError> {
        let _ = key;
        self.send(mail).await
    }
}
