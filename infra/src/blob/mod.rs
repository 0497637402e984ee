//! Blob store adapters.

#[cfg(feature = "local")]
pub mod local;
#[cfg(feature = "aws")]
pub mod s3;
