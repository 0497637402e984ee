//! What only the local system serves: the HTTP side of the local adapters.

pub mod blobs;
