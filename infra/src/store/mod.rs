//! Item store adapters.

pub mod codec;
pub mod dynamo;
pub mod sqlite;
