//! The whole system in one process, for a laptop and for the end-to-end tests.
//!
//! [`system::LocalSystem`] serves every endpoint ([`crate::api`]) and the local-only pages
//! ([`mailbox`], [`blobs`]) on one HTTP server, and runs the event runtime ([`runtime`]): a
//! [`scheduler`] for the schedules, a [`queue_pump`] per queue consumer and a [`feed_pump`] per
//! stream consumer. Each builds the same `aws_lambda_events` types Lambda would deliver, so the
//! handlers under test here are the handlers that run on AWS.

pub mod blobs;
pub mod feed_pump;
pub mod mailbox;
pub mod options;
pub mod queue_pump;
pub mod runtime;
pub mod schedule;
pub mod scheduler;
pub mod system;

pub use options::Options;
pub use system::{LocalSystem, shutdown_signal};

/// The region named in local ARNs and events.
pub const REGION: &str = "local";

/// The account named in local ARNs and events.
pub const ACCOUNT: &str = "000000000000";
