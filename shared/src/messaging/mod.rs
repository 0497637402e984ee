//! Messaging: domain events, written with the change they describe and delivered at least once.
//!
//! - [`event`]: what happened ([`Event`]), named by an [`EventType`].
//! - [`outbox`]: a use case adds [`outbox_write`] to the transaction of its own change, so the
//!   change and its events commit together or not at all. The relay (the store's change feed)
//!   and a scheduled reconciliation publish pending events and mark them relayed.
//! - [`inbox`]: a consumer adds [`inbox_claim`] to the transaction of its effect, so a
//!   redelivered event has no second effect.
//!
//! Together: exactly-once effects over at-least-once delivery.

pub mod event;
pub mod inbox;
pub mod outbox;

pub use event::{Event, EventType};
pub use inbox::{Applied, apply_once, inbox_claim};
pub use outbox::{mark_relayed, outbox_write, pending_older_than};
