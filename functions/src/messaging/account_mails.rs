//! Account events become `send_email` jobs: the mail of each `user.*` event that needs one.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use shared::clock::{Clock, Random};
use shared::emails::Template;
use shared::jobs::enqueue::{NewJob, enqueue_writes};
use shared::messaging::event::{Event, EventType};
use shared::store::Write;
use uuid::Uuid;

use crate::jobs::JobType;
use crate::jobs::send_email::SendEmail;
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

#[derive(Deserialize)]
struct UserEvent {
    user_id: Uuid,
    /// Only on `user.registered`: accounts created verified get a welcome instead.
    #[serde(default)]
    verified: bool,
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
        let payload: UserEvent = event
            .payload_as()
            .with_context(|| format!("a {} event without a user id", event.event_type))?;
        let template = match event.event_type {
            EventType::UserRegistered if payload.verified => Template::Welcome,
            EventType::UserRegistered | EventType::UserEmailVerificationRequested => {
                Template::Verification
            }
            EventType::UserPasswordResetRequested => Template::Reset,
            EventType::UserPasswordChanged => Template::PasswordChanged,
            EventType::UserDeleted | EventType::JobEnqueued => return Ok(Vec::new()),
        };
        let job = NewJob::new(
            SendEmail::NAME,
            json!({ "template": template, "user_id": payload.user_id }),
        );
        let (_, writes) = enqueue_writes(job, self.clock.now(), self.random.as_ref())?;
        Ok(writes.into())
    }
}
