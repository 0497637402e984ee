//! Queue adapters.

pub mod sqs;
pub mod local;
