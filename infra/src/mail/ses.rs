//! The mailer on SES (v1 API): one `SendEmail` per mail, text and HTML bodies.

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_ses::Client;
use aws_sdk_ses::operation::send_email::SendEmailError;
use aws_sdk_ses::types::{Body, Content, Destination, Message};
use shared::mail::{Mail, MailError, Mailer};

/// Sends mail through SES from one verified sender.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let message = Message::builder()
            .subject(utf8(&mail.subject)?)
            .body(
                Body::builder()
                    .text(utf8(&mail.text)?)
                    .html(utf8(&mail.html)?)
                    .build(),
            )
            .build();
        let result = self
            .client
            .send_email()
            .source(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .message(message)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.message_id),
            // What SES refuses on a fresh or misconfigured account (an unverified sender or
            // recipient in the sandbox, paused sending) is fixed by an operator, not by the
            // mail: the job retries and says why.
            Err(err) => match err.as_service_error() {
                Some(SendEmailError::MessageRejected(e)) => Err(MailError::Refused(
                    e.message().unwrap_or("message rejected").to_owned(),
                )),
                Some(SendEmailError::MailFromDomainNotVerifiedException(e)) => {
                    Err(MailError::Refused(
                        e.message()
                            .unwrap_or("sender domain not verified")
                            .to_owned(),
                    ))
                }
                Some(SendEmailError::AccountSendingPausedException(e)) => Err(MailError::Refused(
                    e.message()
                        .unwrap_or("sending is paused for the account")
                        .to_owned(),
                )),
                Some(SendEmailError::ConfigurationSetSendingPausedException(e)) => {
                    Err(MailError::Refused(
                        e.message()
                            .unwrap_or("sending is paused for the configuration set")
                            .to_owned(),
                    ))
                }
                _ => Err(anyhow::Error::new(err).context("sending a mail").into()),
            },
        }
    }
}

fn utf8(data: &str) -> Result<Content, MailError> {
    Ok(Content::builder()
        .charset("UTF-8")
        .data(data)
        .build()
        .context("building mail content")?)
}
