//! Blob store adapters.

pub mod local;
