//! Support for the cross-crate suites in `suite/`: the Python tools (moto, cfn-lint) and the
//! harnesses built on them.

pub mod python;
pub mod template;
