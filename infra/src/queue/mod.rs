//! Queue adapters.

#[cfg(feature = "local")]
pub mod local;
#[cfg(feature = "aws")]
pub mod sqs;
