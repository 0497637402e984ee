//! The whole system on one machine, for a laptop and for the end-to-end tests. No Lambda
//! function links this crate.
//!
//! [`system::LocalSystem`] serves every route of [`functions::wiring::FUNCTIONS`] and the
//! local-only pages ([`mailbox`], [`blobs`]) on one HTTP server, and runs the event runtime
//! ([`runtime`]): a [`scheduler`] for the schedules, a [`queue_pump`] per queue consumer and a
//! [`feed_pump`] per stream consumer. Each builds the same `aws_lambda_events` types Lambda would
//! deliver, so the handlers under test here are the handlers that run on AWS.
//!
//! [`admin`] is the operator's command line, against either backend.

pub mod account_pages;
pub mod admin;
pub mod blobs;
pub mod feed_pump;
pub mod hosts;
pub mod mailbox;
pub mod options;
pub mod queue_pump;
pub mod runtime;
pub mod schedule;
pub mod scheduler;
pub mod system;

pub use options::Options;
pub use system::{LocalSystem, shutdown_signal};

use functions::auth::guard::Route;

/// The local system's own routes, beside the API's: open to anyone on the machine, since the
/// server listens on loopback only.
pub const ROUTES: &[Route] = &[
    Route::public("GET", mailbox::LIST_PATH),
    Route::public("GET", mailbox::VIEW_PATH),
    Route::public("POST", blobs::UPLOAD_PATH),
    Route::public("GET", blobs::DOWNLOAD_PATH),
    Route::public("GET", blobs::PUBLIC_PATH),
];

/// The region named in local ARNs and events.
pub const REGION: &str = "local";

/// The account named in local ARNs and events.
pub const ACCOUNT: &str = "000000000000";
