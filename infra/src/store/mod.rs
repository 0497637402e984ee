//! Item store adapters.

pub mod codec;
pub mod sqlite;
