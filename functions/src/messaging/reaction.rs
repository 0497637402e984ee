//! Reactions: what the consumer does with an event, as writes committed with its inbox claim.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use anyhow::bail;
use async_trait::async_trait;
use shared::messaging::event::{Event, EventType};
use shared::store::Write;

/// One consumer of one or more event types.
///
/// Its effect is the writes it returns: the consumer commits them in one transaction with the
/// claim of (event, [`Reaction::name`]), so they happen once per event however often the event
/// is delivered. A reaction may read, but must not change anything itself; an effect outside
/// the store (a mail) belongs in a job that the reaction enqueues (a job record and its
/// `job.enqueued` outbox event are writes).
#[async_trait]
pub trait Reaction: Send + Sync + fmt::Debug {
    /// The reaction's name in the inbox: unique, and stable across deployments (a renamed
    /// reaction would act again on redelivered events).
    fn name(&self) -> &str;

    /// The writes of this event's effect; an error retries the event later.
    async fn react(&self, event: &Event) -> anyhow::Result<Vec<Write>>;
}

/// Which reactions run on which event type.
#[derive(Debug, Clone, Default)]
pub struct Reactions {
    by_type: BTreeMap<EventType, Vec<Arc<dyn Reaction>>>,
}

impl Reactions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a reaction to events of one type. A name already taken by another reaction (of
    /// any type) is refused, since the two would share their inbox claims.
    pub fn on(
        mut self,
        event_type: EventType,
        reaction: Arc<dyn Reaction>,
    ) -> anyhow::Result<Self> {
        let taken = self
            .by_type
            .iter()
            .flat_map(|(t, rs)| rs.iter().map(move |r| (*t, r)))
            .any(|(t, r)| {
                r.name() == reaction.name() && (t == event_type || !Arc::ptr_eq(r, &reaction))
            });
        if taken {
            bail!(
                "a reaction named {:?} is registered already",
                reaction.name()
            );
        }
        self.by_type.entry(event_type).or_default().push(reaction);
        Ok(self)
    }

    /// The reactions to events of this type, in the order they were added.
    pub fn to(&self, event_type: EventType) -> &[Arc<dyn Reaction>] {
        self.by_type.get(&event_type).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Named(&'static str);

    #[async_trait]
    impl Reaction for Named {
        fn name(&self) -> &str {
            self.0
        }
        async fn react(&self, _: &Event) -> anyhow::Result<Vec<Write>> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn one_reaction_may_serve_several_types_but_a_name_is_taken_once() -> anyhow::Result<()> {
        let welcome: Arc<dyn Reaction> = Arc::new(Named("welcome"));
        let reactions = Reactions::new()
            .on(EventType::UserRegistered, welcome.clone())?
            .on(EventType::UserEmailVerificationRequested, welcome.clone())?;
        assert_eq!(reactions.to(EventType::UserRegistered).len(), 1);
        assert!(reactions.to(EventType::UserDeleted).is_empty());

        assert!(
            reactions
                .clone()
                .on(EventType::UserRegistered, welcome)
                .is_err()
        );
        assert!(
            reactions
                .on(EventType::UserDeleted, Arc::new(Named("welcome")))
                .is_err()
        );
        Ok(())
    }
}
