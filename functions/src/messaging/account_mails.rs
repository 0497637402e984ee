//! Account events become `send_email` jobs: the mail of each `user.*` event that needs one.

use std::sync::Arc;

use async_trait::async_trait;
use shared::clock::{Clock, Random};
use shared::emails::Template;
use shared::jobs::enqueue::{NewJob, enqueue_writes};
use shared::messaging::event::{Event, EventType};
use shared::store::Write;
use shared::users::Email;
use shared::users::events::{
    EmailVerificationRequested, PasswordChanged, PasswordResetRequested, UserRegistered,
};

use uuid::Uuid;

use crate::jobs::send_email::SendEmailPayload;
use crate::messaging::reaction::{Reaction, Reactions};

/// The event types with a mail.
pub const EVENT_TYPES: &[EventType] = &[
    EventType::UserRegistered,
    EventType::UserEmailVerificationRequested,
    EventType::UserPasswordResetRequested,
    EventType::UserPasswordChanged,
];

#[derive(Debug)]
pub struct AccountMails {
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

impl AccountMails {
    pub fn new(clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Self {
        Self { clock, random }
    }

    /// Subscribes one instance to every event type with a mail.
    pub fn subscribe(self, mut reactions: Reactions) -> anyhow::Result<Reactions> {
        let this: Arc<dyn Reaction> = Arc::new(self);
        for event_type in EVENT_TYPES {
            reactions = reactions.on(*event_type, this.clone())?;
        }
        Ok(reactions)
    }
}

#[async_trait]
impl Reaction for AccountMails {
    fn name(&self) -> &str {
        "account_mails"
    }

    async fn react(&self, event: &Event) -> anyhow::Result<Vec<Write>> {
        let to_account =
            |template, email: Option<Email>, user_id: Option<Uuid>| match (email, user_id) {
                (Some(email), _) => Ok(SendEmailPayload::ToAccountAt { template, email }),
                (None, Some(user_id)) => Ok(SendEmailPayload::ToUser { template, user_id }),
                (None, None) => Err(anyhow::anyhow!(
                    "a {} event names neither an address nor a user",
                    event.event_type.as_str()
                )),
            };
        let payload = match event.event_type {
            EventType::UserRegistered => {
                let registered: UserRegistered = event.payload()?;
                let template = if registered.verified {
                    Template::Welcome
                } else {
                    Template::Verification
                };
                SendEmailPayload::ToUser {
                    template,
                    user_id: registered.user_id,
                }
            }
            EventType::UserEmailVerificationRequested => {
                let asked: EmailVerificationRequested = event.payload()?;
                to_account(Template::Verification, asked.email, asked.user_id)?
            }
            EventType::UserPasswordResetRequested => {
                let asked: PasswordResetRequested = event.payload()?;
                to_account(Template::Reset, asked.email, asked.user_id)?
            }
            EventType::UserPasswordChanged => SendEmailPayload::ToUser {
                template: Template::PasswordChanged,
                user_id: event.payload::<PasswordChanged>()?.user_id,
            },
            EventType::UserDeleted | EventType::JobEnqueued => return Ok(Vec::new()),
        };
        let job = NewJob::of(&payload)?;
        let (_, writes) = enqueue_writes(job, self.clock.now(), self.random.as_ref())?;
        Ok(writes.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use shared::clock::{OsRandom, SystemClock};
    use shared::jobs::Job;
    use shared::messaging::event::EventPayload;
    use shared::users::events::UserDeleted;

    /// The mail job `payload`'s event queues, if any.
    async fn mail_for<P: EventPayload>(payload: &P) -> Option<SendEmailPayload> {
        let reaction = AccountMails::new(Arc::new(SystemClock), Arc::new(OsRandom));
        let event = Event::of(Uuid::now_v7(), "x", payload, Utc::now());
        let writes = reaction.react(&event).await.unwrap();
        let job: Job = writes.iter().find_map(|write| match write {
            Write::Put { item, .. } if item.key.pk.starts_with("JOB#") => item.record().ok(),
            _ => None,
        })?;
        assert_eq!(job.job_type, "send_email");
        Some(serde_json::from_value(job.payload).unwrap())
    }

    #[tokio::test]
    async fn each_account_event_mails_its_own_template() {
        let (user_id, email) = (Uuid::now_v7(), Email::parse("ada@example.com").unwrap());
        let unverified = UserRegistered {
            user_id,
            verified: false,
        };
        let verified = UserRegistered {
            user_id,
            verified: true,
        };
        let verify = EmailVerificationRequested {
            email: Some(email.clone()),
            user_id: None,
        };
        let reset = PasswordResetRequested {
            email: Some(email.clone()),
            user_id: None,
        };
        let changed = PasswordChanged { user_id };
        let to_user = |template| Some(SendEmailPayload::ToUser { template, user_id });
        let to_address = |template| {
            Some(SendEmailPayload::ToAccountAt {
                template,
                email: email.clone(),
            })
        };
        assert_eq!(mail_for(&unverified).await, to_user(Template::Verification));
        assert_eq!(mail_for(&verified).await, to_user(Template::Welcome));
        assert_eq!(mail_for(&verify).await, to_address(Template::Verification));
        assert_eq!(mail_for(&reset).await, to_address(Template::Reset));
        assert_eq!(mail_for(&changed).await, to_user(Template::PasswordChanged));
        let deleted = UserDeleted {
            user_id,
            avatar_key: None,
        };
        assert_eq!(
            mail_for(&deleted).await,
            None,
            "a deleted account gets no mail"
        );
    }
}
