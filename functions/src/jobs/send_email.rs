//! `send_email`: renders one of the system's mails and sends it through the mailer.

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use serde_json::{Value, json};
use shared::emails::{EmailRequest, render};
use shared::mail::{MailError, Mailer};

use crate::jobs::{JobError, JobType};

#[derive(Debug, Clone)]
pub struct SendEmail {
    mailer: Arc<dyn Mailer>,
    app_url: String,
}

impl SendEmail {
    pub fn new(mailer: Arc<dyn Mailer>, app_url: impl Into<String>) -> Self {
        Self {
            mailer,
            app_url: app_url.into(),
        }
    }
}

#[async_trait]
impl JobType for SendEmail {
    const NAME: &'static str = "send_email";
    /// Verification and reset mails carry a one-time token.
    const SENSITIVE: bool = true;
    type Payload = EmailRequest;

    async fn run(&self, request: EmailRequest) -> Result<Value, JobError> {
        let mail = render(&request, &self.app_url).map_err(|e| JobError::Permanent(anyhow!(e)))?;
        let message_id = self.mailer.send(&mail).await.map_err(|e| match e {
            MailError::Rejected(_) => JobError::Permanent(anyhow!(e)),
            MailError::Unexpected(e) => JobError::Retryable(e.context("sending a mail")),
        })?;
        Ok(json!({ "template": request.template, "message_id": message_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::emails::Template;
    use shared::mail::Mail;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Outbox {
        sent: Mutex<Vec<Mail>>,
        reject: bool,
    }

    #[async_trait]
    impl Mailer for Outbox {
        async fn send(&self, mail: &Mail) -> Result<String, MailError> {
            if self.reject {
                return Err(MailError::Rejected("no such address".into()));
            }
            self.sent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(mail.clone());
            Ok("m-1".into())
        }
    }

    fn request(template: Template, token: Option<&str>) -> EmailRequest {
        EmailRequest {
            template,
            to: "ada@example.com".into(),
            name: None,
            token: token.map(Into::into),
        }
    }

    #[tokio::test]
    async fn it_sends_the_rendered_mail() {
        let outbox = Arc::new(Outbox::default());
        let job = SendEmail::new(outbox.clone(), "https://app.example.com");
        let result = job
            .run(request(Template::Verification, Some("tok")))
            .await
            .ok();
        assert_eq!(
            result,
            Some(json!({"template": "verification", "message_id": "m-1"}))
        );
        let sent = outbox.sent.lock().map(|s| s.clone()).unwrap_or_default();
        assert!(
            sent[0]
                .text
                .contains("https://app.example.com/verify-email?token=tok")
        );
    }

    #[tokio::test]
    async fn a_rejected_mail_or_a_missing_token_fails_for_good() {
        let rejecting = SendEmail::new(
            Arc::new(Outbox {
                reject: true,
                ..Outbox::default()
            }),
            "http://x",
        );
        assert!(matches!(
            rejecting.run(request(Template::Welcome, None)).await,
            Err(JobError::Permanent(_))
        ));
        let job = SendEmail::new(Arc::new(Outbox::default()), "http://x");
        assert!(matches!(
            job.run(request(Template::Reset, None)).await,
            Err(JobError::Permanent(_))
        ));
    }
}
