//! Item store adapters.

#[cfg(feature = "aws")]
pub mod dynamo;
#[cfg(feature = "local")]
pub mod sqlite;
