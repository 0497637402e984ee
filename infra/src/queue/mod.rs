//! Queue adapters.

pub mod local;
