//! The inbound side: everything that turns a request or an event into a use case call.
//!
//! - [`catalog`]: every function of the system and its trigger; template.yaml must agree.
pub mod catalog;
pub mod local;
