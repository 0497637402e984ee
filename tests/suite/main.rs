//! Suite.

mod fixtures;
mod template;
