//! The domain crate: types, rules, use cases, and the ports they talk through.
//!
//! Nothing here knows about AWS, Lambda or HTTP. The outside world is reached only through the
//! ports, one narrow trait per external capability, each with two real implementations in `infra`
//! (AWS and local) and one conformance suite in `tests/` that runs against both:
//!
//! - [`store`]: the item store (DynamoDB semantics: single table, indexes, conditions,
//!   transactions, TTL, a change feed);
//! - [`queue`]: a message queue (SQS semantics: at-least-once, visibility, dead-lettering);
//! - [`blob`]: a blob store (S3 semantics: get, put, delete, presigned GET, uploads in parts)
//!   and the presigned POST forms, with conditions, that clients upload to it with;
//! - [`mail`]: outgoing mail (SES);
//! - [`secrets`]: named secrets (Secrets Manager);
//! - [`clock`]: time and randomness, so tests can move time and pin ids.
//!
//! Capabilities built on the ports live in their own folders:
//!
//! - [`accounts`]: the identity use cases (register, login, refresh, reset, ...);
//! - [`users`]: accounts, their profile fields and how they are stored;
//! - [`rbac`]: permissions, roles, assignments, the cached catalog and its seed;
//! - [`auth`]: passwords, access tokens, sessions, one-time tokens, throttling, and the
//!   identity use cases built on them;
//! - [`messaging`]: domain events, the transactional outbox and the consumers' inbox;
//! - [`jobs`]: background job records, their status rules, and enqueueing through the outbox;
//! - [`emails`]: the mails the system sends, rendered from small templates;
//! - [`paging`]: signed page cursors.

pub mod accounts;
pub mod auth;
pub mod blob;
pub mod blocking;
pub mod cache;
pub mod clock;
pub mod emails;
pub mod idempotency;
pub mod jobs;
pub mod mail;
pub mod messaging;
pub mod paging;
pub mod queue;
pub mod rbac;
pub mod secrets;
pub mod store;
pub mod trace;
pub mod users;
