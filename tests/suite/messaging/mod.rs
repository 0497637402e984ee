//! The event pipeline: outbox, relay, events queue, consumer with its inbox, reconciliation.
//!
//! [`cases`] are written once over the ports and run on the local adapters and on the AWS
//! adapters against the emulator; so are the [`stream`] cases, which hand the relay what each
//! backend's real change stream shows (the emulator's through `GetRecords`), and [`emulator`]
//! checks that stream's records and the system's mail over it; [`system`] runs
//! the local event runtime end to end, through a crash; [`template`] checks the pipeline's
//! resources in template.yaml.

mod backends;
mod cases;
mod emulator;
pub mod harness;
mod samples;
mod stream;
mod system;
mod template;
