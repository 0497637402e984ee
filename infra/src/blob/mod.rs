//! Blob store adapters.

pub mod s3;
pub mod local;
