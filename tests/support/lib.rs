//! Support for the cross-crate suites in `suite/`: the Python tools (moto, cfn-lint) and the
//! harnesses built on them.

pub mod moto;
pub mod provision;
pub mod python;
