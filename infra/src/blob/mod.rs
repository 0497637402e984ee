//! Blob store adapters.

pub mod s3;
