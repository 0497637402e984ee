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
