//! User endpoints (`/api/v1/users`), one file each.

pub mod create_user;
pub mod get_user;
pub mod update_user;
pub mod user_roles;
