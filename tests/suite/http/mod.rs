//! End-to-end over real HTTP against the local system, and the Lambda path through the same
//! routers.

mod basics;
mod bootstrap;
mod browser;
mod documented;
mod errors;
mod fuzz;
mod idempotency;
pub mod lambda;
