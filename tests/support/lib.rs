//! Support for the cross-crate suites in `suite/`: the Python tools (moto, cfn-lint), the local
//! fixtures, and the harnesses built on them.

pub mod local;
pub mod moto;
pub mod provision;
pub mod python;
