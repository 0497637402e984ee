//! The whole system in one process, for a laptop and for the end-to-end tests.
//!
//! The local binary serves every endpoint on one HTTP server and runs the event runtime: a
//! [`queue_pump`] per queue consumer, a [`feed_pump`] per stream consumer and a [`scheduler`]
//! for the schedules. Each builds the same `aws_lambda_events` types Lambda would deliver, so
//! the handlers under test here are the handlers that run on AWS.

pub mod queue_pump;
pub mod schedule;
pub mod scheduler;

/// The region named in local ARNs and events.
pub const REGION: &str = "local";

/// The account named in local ARNs and events.
pub const ACCOUNT: &str = "000000000000";
