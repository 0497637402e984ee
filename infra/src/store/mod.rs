//! Item store adapters.

pub mod codec;
