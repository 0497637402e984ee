//! The cross-crate suite, one binary: end-to-end over HTTP against the local system, and the
//! local event runtime driving real handlers.

// A test binary exports nothing; `pub` marks what its modules share.
#![allow(unreachable_pub)]

mod http;
mod runtime;
