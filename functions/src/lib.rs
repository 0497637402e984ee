//! The inbound side: everything that turns a request or an event into a use case call.
//!
//! - [`catalog`]: every function of the system and its trigger; template.yaml must agree.
//! - [`http`]: what every endpoint shares: problem+json errors, the JSON extractor, request
//!   ids, security headers, limits; [`http::app`] wraps any endpoint router with all of it.
//! - Endpoints, one file each, all of the same shape (route constants, `router(state)`, the
//!   handler): [`system::health`], [`auth::jwks`]. [`api`] mounts them all on one router.
//! - [`event`]: the handler shapes of SQS, stream and schedule functions;
//!   [`maintenance`] holds the scheduled ones ([`maintenance::purge_expired`],
//!   [`maintenance::reconcile_outbox`]).
//! - [`messaging`]: the event pipeline: the stream [`messaging::relay`], the events
//!   [`messaging::consumer`] and the reactions it runs.
//! - [`jobs`]: background jobs: one file per job type, the registry, the queue worker.
//! - [`telemetry`]: tracing setup.
//! - [`local`]: the whole system in one process: the server, the mailbox pages, and the event
//!   runtime that feeds the handlers real Lambda event types.
//!
//! - [`admin`]: the operator's command line (creating the signing key set on AWS or locally).
//!
//! `src/bin/` holds one thin main per Lambda function, `local` (the local system) and `admin`.

pub mod admin;
pub mod api;
pub mod auth;
pub mod catalog;
pub mod event;
pub mod http;
pub mod jobs;
pub mod local;
pub mod maintenance;
pub mod messaging;
pub mod system;
pub mod telemetry;
