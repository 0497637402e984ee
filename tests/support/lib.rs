//! Support for the cross-crate suites in `suite/`: the Python tools (moto, cfn-lint), the local
//! fixtures, the local system under test, and the harnesses built on them.

// This is test support: a failed unwrap names what broke, where a fallback value would hide it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod app;
pub mod aws_app;
pub mod browser;
pub mod local;
pub mod moto;
pub mod provision;
pub mod python;
pub mod stream;
pub mod template;
