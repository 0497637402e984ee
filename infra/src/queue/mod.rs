//! Queue adapters.

pub mod sqs;
