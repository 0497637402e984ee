//! Support for the cross-crate suites in `suite/`: the Python tools (moto, cfn-lint), the local
//! fixtures, the local system under test, and the harnesses built on them.

pub mod app;
pub mod aws_app;
pub mod local;
pub mod moto;
pub mod provision;
pub mod python;
pub mod template;
