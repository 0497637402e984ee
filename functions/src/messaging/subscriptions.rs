//! The one table of which reactions run on which events. Register a reaction here.

use std::sync::Arc;

use infra::compose::Backend;
use shared::clock::OsRandom;

use crate::messaging::account_mails::AccountMails;
use crate::messaging::reaction::Reactions;

/// Every reaction of the system, built from the backend's ports.
pub fn subscriptions(backend: &Backend) -> anyhow::Result<Reactions> {
    AccountMails::new(backend.clock(), Arc::new(OsRandom)).subscribe(Reactions::new())
}
