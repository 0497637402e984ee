//! Blob store adapters.

pub mod local;
pub mod s3;
