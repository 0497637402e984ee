//! Authentication: passwords, access tokens and the keys they are signed with, sessions with
//! rotating refresh tokens, single-use mail tokens, and throttling.

pub mod access_token;
pub mod key_cache;
pub mod keys;
pub mod one_time;
pub mod opaque;
pub mod password;
pub mod session;
pub mod throttle;
