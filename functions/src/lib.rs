//! The inbound side: everything that turns a request or an event into a use case call.
//!
//! - [`wiring`]: the one table of every function of the system (its name, its trigger, how its
//!   handler is built from the ports), and how a Lambda function runs its entry. The only
//!   module that sees the composition root.
//! - [`http`]: what every endpoint shares: problem+json errors, the JSON extractor, request
//!   ids, security headers, limits, deny by default; [`http::app`] wraps routes with all of it.
//! - Endpoints, one file each, all of the same shape (the request type, `handler(ports)`, the
//!   handler function): [`system::health`], [`auth`] (with the [`auth::guard`] every protected
//!   route is mounted behind), [`users`], [`rbac`] (role and permission administration).
//! - [`trigger`]: the handler shapes of queue, stream and schedule functions.
//! - [`messaging`]: the event pipeline: the stream [`messaging::relay`], the events
//!   [`messaging::consumer`] and the reactions it runs.
//! - [`jobs`]: background jobs: the job types, the registry, the queue worker, and the jobs
//!   API's endpoints.
//! - [`maintenance`]: the scheduled functions, each also a job type where running it on demand
//!   makes sense.
//! - [`telemetry`]: tracing setup.
//!
//! `src/bin/` holds one main per package ([`wiring::packages`]): `api`, `events` and `worker`,
//! each running the function its `Handler` names.
//! The whole system on one machine is the `local` crate (`functions/local`), which no Lambda
//! function links.

pub mod auth;
pub mod http;
pub mod jobs;
pub mod maintenance;
pub mod messaging;
pub mod openapi;
pub mod rbac;
pub mod system;
pub mod telemetry;
pub mod trigger;
pub mod users;
pub mod wiring;
