//! User endpoints (`/api/v1/users`), one file each.

pub mod assign_role;
pub mod avatar_uploaded;
pub mod create_user;
pub mod delete_user;
pub mod get_user;
pub mod list_users;
pub mod revoke_role;
pub mod update_user;
pub mod upload_avatar;
pub mod user_roles;
