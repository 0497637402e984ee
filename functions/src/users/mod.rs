//! User endpoints (`/api/v1/users`), one file each.

pub mod get_user;
pub mod update_user;
