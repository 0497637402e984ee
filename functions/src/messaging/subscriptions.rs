//! The one table of which reactions run on which events. Register a reaction here.

use std::sync::Arc;

use shared::clock::{Clock, Random};

use shared::messaging::event::EventType;

use crate::messaging::account_erasure::AccountErasure;
use crate::messaging::account_mails::AccountMails;
use crate::messaging::reaction::Reactions;

/// Every reaction of the system, over the ports they take.
pub fn subscriptions(clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> anyhow::Result<Reactions> {
    let erasure = AccountErasure::new(clock.clone(), random.clone());
    AccountMails::new(clock, random)
        .subscribe(Reactions::new())?
        .on(EventType::UserDeleted, Arc::new(erasure))
}
