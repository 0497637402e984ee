//! The event pipeline: outbox, relay, events queue, consumer with its inbox, reconciliation.
//!
//! [`cases`] are written once over the ports and run on the local adapters and on the AWS
//! adapters against the emulator; [`system`] runs the local event runtime end to end, through
//! a crash.

mod backends;
mod cases;
mod harness;
mod system;
