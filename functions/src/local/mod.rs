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

use crate::auth::guard::{Endpoint, Policy};

/// The local system's own routes, beside the API's: open to anyone on the machine, since the
/// server listens on loopback only.
pub const ROUTES: &[Endpoint] = &[
    local_route("GET", mailbox::LIST_PATH),
    local_route("GET", mailbox::VIEW_PATH),
    local_route("POST", blobs::UPLOAD_PATH),
    local_route("GET", blobs::DOWNLOAD_PATH),
];

const fn local_route(method: &'static str, path: &'static str) -> Endpoint {
    Endpoint {
        function: "local",
        method,
        path,
        policy: Policy::Public,
    }
}
pub use system::{LocalSystem, shutdown_signal};

/// The region named in local ARNs and events.
pub const REGION: &str = "local";

/// The account named in local ARNs and events.
pub const ACCOUNT: &str = "000000000000";
