//! Authentication: the keys access tokens are signed with.

pub mod keys;
