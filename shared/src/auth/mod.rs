//! Authentication: passwords, access tokens and the keys they are signed with.

pub mod access_token;
pub mod keys;
pub mod password;
