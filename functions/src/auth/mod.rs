//! Authentication endpoints.

pub mod jwks;
