//! `user.deleted` becomes an `erase_user` job: the remains of the account are removed in the
//! background, retried until done.

use std::sync::Arc;

use async_trait::async_trait;
use shared::clock::{Clock, Random};
use shared::jobs::enqueue::{NewJob, enqueue_writes};
use shared::messaging::event::Event;
use shared::store::Write;
use shared::users::events::UserDeleted;

use crate::jobs::erase_user::EraseUserPayload;
use crate::messaging::reaction::Reaction;

#[derive(Debug)]
pub struct AccountErasure {
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

impl AccountErasure {
    pub fn new(clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Self {
        Self { clock, random }
    }
}

#[async_trait]
impl Reaction for AccountErasure {
    fn name(&self) -> &str {
        "account_erasure"
    }

    async fn react(&self, event: &Event) -> anyhow::Result<Vec<Write>> {
        let deleted: UserDeleted = event.payload()?;
        let job = NewJob::of(&EraseUserPayload {
            user_id: deleted.user_id,
            avatar_key: deleted.avatar_key,
        })?;
        let (_, writes) = enqueue_writes(job, self.clock.now(), self.random.as_ref())?;
        Ok(writes.into())
    }
}
