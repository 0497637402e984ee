//! The one table of which reactions run on which events. Register a reaction here.

use infra::compose::Backend;

use crate::messaging::reaction::Reactions;

/// Every reaction of the system, built from the backend's ports.
pub fn subscriptions(_backend: &Backend) -> anyhow::Result<Reactions> {
    Ok(Reactions::new())
}
