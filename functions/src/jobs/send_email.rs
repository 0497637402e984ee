//! `send_email`: renders one of the system's mails and sends it through the mailer.
//!
//! A mail to an account names the user; its one-time link (verification, reset) is minted when
//! the job runs, so no token ever sits in an event, a queue message or a job record — only its
//! hash, in the store. A mail to a bare address may use the templates without a link.

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::auth::one_time::{self, Purpose};
use shared::clock::{Clock, Random};
use shared::emails::{EmailRequest, Template, render};
use shared::mail::{MailError, Mailer};
use shared::store::ItemStore;
use shared::users::{Email, UserRepo};
use uuid::Uuid;

use crate::jobs::{JobFailure, JobPayload, JobType};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SendEmailPayload {
    /// A mail to an account.
    ToUser { template: Template, user_id: Uuid },
    /// A mail to the account at an address, if there is one (a link asked for by address).
    ToAccountAt { template: Template, email: Email },
    /// A mail to an address, without a one-time link.
    ToAddress(EmailRequest),
}

impl JobPayload for SendEmailPayload {
    const JOB_TYPE: &'static str = "send_email";
    /// A sent mail may hold a one-time link; the payload itself never does.
    const SENSITIVE: bool = true;
}

#[derive(Debug, Clone)]
pub struct SendEmail {
    mailer: Arc<dyn Mailer>,
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    app_url: String,
}

impl SendEmail {
    pub fn new(
        mailer: Arc<dyn Mailer>,
        store: Arc<dyn ItemStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        app_url: impl Into<String>,
    ) -> Self {
        Self {
            mailer,
            store,
            clock,
            random,
            app_url: app_url.into(),
        }
    }

    /// The request for a mail to an account, minting its link's token; `None` when the mail
    /// no longer makes sense (the user is gone, or verified already).
    async fn to_user(
        &self,
        template: Template,
        user_id: Uuid,
    ) -> Result<Option<EmailRequest>, JobFailure> {
        let users = UserRepo::new(self.store.clone());
        let user = users.get(user_id).await.map_err(|e| {
            JobFailure::Retryable(anyhow::Error::new(e).context("reading the user"))
        })?;
        let Some(user) = user else {
            return Ok(None);
        };
        let purpose = match template {
            // A link is for an account that can still use it.
            Template::Verification | Template::Reset if !user.is_active() => return Ok(None),
            Template::Verification if user.email_verified => return Ok(None),
            Template::Verification => Some(Purpose::VerifyEmail),
            Template::Reset => Some(Purpose::ResetPassword),
            Template::Welcome | Template::PasswordChanged => None,
        };
        let token = match purpose {
            Some(purpose) => {
                let token = one_time::issue(
                    self.store.as_ref(),
                    self.random.as_ref(),
                    purpose,
                    &user,
                    self.clock.now(),
                )
                .await
                .map_err(|e| {
                    JobFailure::Retryable(anyhow::Error::new(e).context("storing a one-time token"))
                })?;
                Some(token.expose().to_owned())
            }
            None => None,
        };
        Ok(Some(EmailRequest {
            template,
            to: user.email.to_string(),
            name: Some(user.name.as_str().to_owned()),
            token,
        }))
    }
}

#[async_trait]
impl JobType for SendEmail {
    type Payload = SendEmailPayload;

    async fn run(&self, payload: SendEmailPayload) -> Result<Value, JobFailure> {
        self.mail(None, payload).await
    }

    /// The mail is sent under the job's id: a job attempted again after an attempt that sent
    /// its mail and died before recording it does not mail twice (where the mailer can tell).
    async fn run_job(&self, id: Uuid, payload: SendEmailPayload) -> Result<Value, JobFailure> {
        self.mail(Some(id), payload).await
    }
}

impl SendEmail {
    async fn mail(
        &self,
        key: Option<Uuid>,
        payload: SendEmailPayload,
    ) -> Result<Value, JobFailure> {
        let request = match payload {
            SendEmailPayload::ToUser { template, user_id } => {
                match self.to_user(template, user_id).await? {
                    Some(request) => request,
                    None => return Ok(json!({ "template": template, "skipped": true })),
                }
            }
            SendEmailPayload::ToAccountAt { template, email } => {
                let user_id = UserRepo::new(self.store.clone())
                    .id_by_email(&email)
                    .await
                    .map_err(|e| {
                        JobFailure::Retryable(anyhow::Error::new(e).context("finding the account"))
                    })?;
                let request = match user_id {
                    Some(user_id) => self.to_user(template, user_id).await?,
                    None => None,
                };
                match request {
                    Some(request) => request,
                    None => return Ok(json!({ "template": template, "skipped": true })),
                }
            }
            SendEmailPayload::ToAddress(request) if request.token.is_some() => {
                return Err(JobFailure::Permanent(anyhow!(
                    "a mail to an address may not carry a token; name the user instead"
                )));
            }
            SendEmailPayload::ToAddress(request) => request,
        };
        let mail =
            render(&request, &self.app_url).map_err(|e| JobFailure::Permanent(anyhow!(e)))?;
        let sent = match key {
            Some(key) => self.mailer.send_once(&key.to_string(), &mail).await,
            None => self.mailer.send(&mail).await,
        };
        let message_id = sent.map_err(|e| match e {
            MailError::Rejected(_) => JobFailure::Permanent(anyhow!(e)),
            MailError::Refused(reason) => {
                tracing::error!(
                    template = ?request.template,
                    reason,
                    "the mail provider refused to send; the job will retry. On SES: is MAIL_FROM's \
                     identity verified, and is the account out of the sandbox (README, \"Mail on \
                     a new AWS account\")?"
                );
                JobFailure::Retryable(anyhow!("the mail provider refused to send: {reason}"))
            }
            MailError::Unexpected(e) => JobFailure::Retryable(e.context("sending a mail")),
        })?;
        Ok(json!({ "template": request.template, "message_id": message_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infra::compose::{Backend, LocalBackend};
    use infra::config::LocalConfig;
    use shared::clock::{OsRandom, SystemClock};
    use shared::mail::Mail;
    use shared::users::{Email, Name, PasswordHash, User, UserStatus};
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Outbox {
        sent: Mutex<Vec<Mail>>,
        reject: bool,
        refuse: bool,
    }

    #[async_trait]
    impl Mailer for Outbox {
        async fn send(&self, mail: &Mail) -> Result<String, MailError> {
            if self.reject {
                return Err(MailError::Rejected("no such address".into()));
            }
            if self.refuse {
                return Err(MailError::Refused("Email address is not verified".into()));
            }
            self.sent.lock().unwrap().push(mail.clone());
            Ok("m-1".into())
        }
    }

    impl Outbox {
        fn sent(&self) -> Vec<Mail> {
            self.sent.lock().unwrap().clone()
        }
    }

    async fn job(
        outbox: Arc<Outbox>,
    ) -> anyhow::Result<(SendEmail, LocalBackend, tempfile::TempDir)> {
        let dir = tempfile::tempdir()?;
        let backend = LocalBackend::open(
            LocalConfig::new(dir.path(), "http://x"),
            Arc::new(SystemClock),
            Arc::new(OsRandom),
        )
        .await?;
        let job = SendEmail::new(
            outbox,
            backend.store()?,
            backend.clock(),
            Arc::new(OsRandom),
            "https://app.example.com",
        );
        Ok((job, backend, dir))
    }

    /// A verified user at `address`, created at `now`.
    fn user(
        address: &str,
        status: UserStatus,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<User> {
        Ok(User {
            id: OsRandom.id(),
            email: Email::parse(address)?,
            name: Name::parse("Ada")?,
            phone: None,
            status,
            email_verified: true,
            password_hash: PasswordHash("$argon2id$unused".into()),
            token_version: 0,
            avatar_url: None,
            avatar_key: None,
            created_at: now,
            updated_at: now,
            version: 0,
        })
    }

    fn to_address(template: Template, token: Option<&str>) -> SendEmailPayload {
        SendEmailPayload::ToAddress(EmailRequest {
            template,
            to: "ada@example.com".into(),
            name: None,
            token: token.map(Into::into),
        })
    }

    #[tokio::test]
    async fn a_verification_mail_carries_a_token_minted_when_it_is_sent() -> anyhow::Result<()> {
        let outbox = Arc::new(Outbox::default());
        let (job, backend, _dir) = job(outbox.clone()).await?;
        let user = User {
            email_verified: false,
            ..user("ada@example.com", UserStatus::Active, backend.clock().now())?
        };
        let store = backend.store()?;
        store
            .transact(shared::users::repo::insert_writes(&user, &[])?)
            .await?;

        let payload: SendEmailPayload =
            serde_json::from_value(json!({"template": "verification", "user_id": user.id}))?;
        let result = job.run(payload).await.map_err(|e| anyhow!("{e:?}"))?;
        assert_eq!(result["message_id"], "m-1");
        let sent = outbox.sent();
        let text = &sent[0].text;
        let token = text
            .split("verify-email?token=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the mail carries a verification link");
        let found = one_time::find(store.as_ref(), Purpose::VerifyEmail, token).await?;
        assert_eq!(found.map(|(record, _)| record.user_id), Some(user.id));
        assert_eq!(sent[0].to, "ada@example.com");
        Ok(())
    }

    #[tokio::test]
    async fn a_verification_job_attempted_again_after_it_mailed_sends_one_mail()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = LocalBackend::open_default(LocalConfig::new(dir.path(), "http://x")).await?;
        let job = SendEmail::new(
            backend.mailer()?,
            backend.store()?,
            backend.clock(),
            Arc::new(OsRandom),
            "https://app.example.com",
        );
        let user = User {
            email_verified: false,
            ..user("ada@example.com", UserStatus::Active, backend.clock().now())?
        };
        backend
            .store()?
            .transact(shared::users::repo::insert_writes(&user, &[])?)
            .await?;
        let payload = SendEmailPayload::ToUser {
            template: Template::Verification,
            user_id: user.id,
        };

        // The first attempt mailed and died before its success was recorded; the worker runs
        // the job again. A resend is another job, and mails again.
        let (job_id, resend_id) = (OsRandom.id(), OsRandom.id());
        let first = job.run_job(job_id, payload.clone()).await;
        let again = job.run_job(job_id, payload.clone()).await;
        let resend = job.run_job(resend_id, payload).await;

        let ids = |r: Result<Value, JobFailure>| r.map(|v| v["message_id"].clone()).ok();
        let (first, again, resend) = (ids(first), ids(again), ids(resend));
        assert!(first.is_some());
        assert_eq!(again, first);
        assert_ne!(resend, first);
        assert_eq!(backend.mailbox().list().await?.len(), 2);
        Ok(())
    }

    #[tokio::test]
    async fn a_mail_to_an_unknown_user_is_skipped() -> anyhow::Result<()> {
        let outbox = Arc::new(Outbox::default());
        let (job, _backend, _dir) = job(outbox.clone()).await?;
        let payload = SendEmailPayload::ToUser {
            template: Template::Reset,
            user_id: OsRandom.id(),
        };
        let result = job.run(payload).await.map_err(|e| anyhow!("{e:?}"))?;
        assert_eq!(result["skipped"], true);
        assert!(outbox.sent().is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn a_link_asked_for_by_address_goes_to_an_active_account_there_only() -> anyhow::Result<()>
    {
        let outbox = Arc::new(Outbox::default());
        let (job, backend, _dir) = job(outbox.clone()).await?;
        let now = backend.clock().now();
        let store = backend.store()?;
        for user in [
            user("ada@example.com", UserStatus::Active, now)?,
            user("off@example.com", UserStatus::Disabled, now)?,
        ] {
            store
                .transact(shared::users::repo::insert_writes(&user, &[])?)
                .await?;
        }
        for (address, sends) in [
            ("ada@example.com", true),
            ("off@example.com", false),
            ("nobody@example.com", false),
        ] {
            let payload: SendEmailPayload =
                serde_json::from_value(json!({"template": "reset", "email": address}))?;
            assert!(matches!(payload, SendEmailPayload::ToAccountAt { .. }));
            let result = job.run(payload).await.map_err(|e| anyhow!("{e:?}"))?;
            assert_eq!(
                result.get("skipped").is_none(),
                sends,
                "{address}: {result}"
            );
        }
        let sent = outbox.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, "ada@example.com");
        assert!(sent[0].text.contains("reset-password?token="));
        Ok(())
    }

    #[tokio::test]
    async fn a_mail_to_an_address_may_not_carry_a_token_and_a_rejection_is_final()
    -> anyhow::Result<()> {
        let (job, _backend, _dir) = job(Arc::new(Outbox::default())).await?;
        assert!(matches!(
            job.run(to_address(Template::Verification, Some("tok")))
                .await,
            Err(JobFailure::Permanent(_))
        ));
        assert!(matches!(
            job.run(to_address(Template::Reset, None)).await,
            Err(JobFailure::Permanent(_))
        ));
        let rejecting = Arc::new(Outbox {
            reject: true,
            ..Outbox::default()
        });
        let (job, _backend, _dir) = self::job(rejecting).await?;
        assert!(matches!(
            job.run(to_address(Template::Welcome, None)).await,
            Err(JobFailure::Permanent(_))
        ));
        Ok(())
    }

    #[tokio::test]
    async fn a_send_the_provider_refuses_for_now_is_retried() -> anyhow::Result<()> {
        let refusing = Arc::new(Outbox {
            refuse: true,
            ..Outbox::default()
        });
        let (job, _backend, _dir) = job(refusing).await?;
        let outcome = job.run(to_address(Template::Welcome, None)).await;
        let Err(JobFailure::Retryable(error)) = outcome else {
            panic!("a refused send is not retried: {outcome:?}");
        };
        assert!(format!("{error:#}").contains("not verified"), "{error:#}");
        Ok(())
    }
}
