//! The cross-crate suite, one binary: adapter conformance (each port's suite, run against every
//! implementation), end-to-end over HTTP against the local system, the local event runtime
//! driving real handlers, every sample event in events/, and the template's agreement with the
//! code (cfn-lint, parity with the table of functions).

// A test binary exports nothing; `pub` marks what its modules share.
#![allow(unreachable_pub)]
// Everything here is test code, helpers included: a failed unwrap names what broke, where a
// fallback value would hide it (clippy.toml allows it in test functions; this extends that to
// their helpers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod auth;
mod aws;
mod conformance;
mod faults;
mod fixtures;
mod grants;
mod http;
mod jobs;
mod matrix;
mod messaging;
mod metrics;
mod rbac;
mod runtime;
mod template;
mod users;
