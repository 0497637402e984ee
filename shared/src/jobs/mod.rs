//! Background jobs: a record in the item store per job, a message on the job queue per attempt.
//!
//! - [`job`]: the [`Job`] record, its [`JobStatus`], and the status rules as plain functions.
//! - [`repo`]: [`JobRepo`], jobs in the item store (`JOB#<id>`), indexed by status and by
//!   type (sharded), saved with optimistic concurrency on a `version` attribute.
//! - [`listing`]: pages of jobs by status and type, behind sealed cursors.
//! - [`control`]: cancelling a queued job, retrying a failed or dead one.
//! - [`enqueue`]: a job type's input is a [`JobPayload`], which names its type; [`enqueue()`] writes the job and its `job.enqueued` event in one transaction
//!   (the transactional outbox), so neither exists without the other; the relay turns the
//!   event into the job's queue message, whose body is the event ([`JobMessage`] reads it).

pub mod control;
pub mod enqueue;
pub mod job;
pub mod listing;
pub mod repo;

pub use enqueue::{JobMessage, JobPayload, NewJob, enqueue, enqueue_writes, requeue};
pub use job::{Job, JobError, JobStatus, backoff};
pub use repo::JobRepo;
