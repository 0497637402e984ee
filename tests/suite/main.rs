//! Suite.

mod aws;
