//! The cross-crate suite, one binary: adapter conformance (each port's suite, run against every
//! implementation), end-to-end over HTTP against the local system, the local event runtime
//! driving real handlers, and the suites built on the support library.

// A test binary exports nothing; `pub` marks what its modules share.
#![allow(unreachable_pub)]

mod aws;
mod conformance;
mod http;
mod jobs;
mod runtime;
