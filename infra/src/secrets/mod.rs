//! Secrets adapters.

pub mod local;
