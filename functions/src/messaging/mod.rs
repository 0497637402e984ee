//! The event pipeline: table stream → [`relay`] → events queue → [`consumer`] → [`reaction`]s.
//!
//! A use case writes its change and its events in one transaction (the outbox, see
//! [`shared::messaging`]). The relay publishes each new outbox event with the [`publisher`]
//! (events to the events queue, `job.enqueued` to the job queue) and marks it relayed; the
//! scheduled [`crate::maintenance::reconcile_outbox`] publishes whatever the relay missed. The
//! consumer hands each event to the reactions [`subscriptions`] registers for its type, and
//! commits each reaction's writes with its inbox claim, so a redelivered event has no second
//! effect.

pub mod account_erasure;
pub mod account_mails;
pub mod consumer;
pub mod publisher;
pub mod reaction;
pub mod relay;
pub mod subscriptions;
