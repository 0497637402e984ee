//! Role-based access control: permissions (`resource:action`), roles that grant them, users
//! that hold roles, the seeded catalog every deployment starts with, and its administration.

pub mod admin;
pub mod admins;
pub mod assignments;
pub mod catalog;
pub mod model;
pub mod names;
pub mod repo;
pub mod seed;

pub use admin::{Actor, RbacAdmin, RbacError};
pub use catalog::{CachedCatalog, Catalog, Grant};
pub use model::{Assignment, Permission, Role};
pub use names::{PermissionName, RoleName};
