//! Queue adapters.

pub mod local;
pub mod sqs;
