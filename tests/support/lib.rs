//! Support for the cross-crate suites in `suite/`: the Python tools (moto, cfn-lint), the local
//! system under test, and the harnesses built on them.

pub mod app;
pub mod python;
