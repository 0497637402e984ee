//! Role and permission administration (`/api/v1/roles`, `/api/v1/permissions`), one file per
//! endpoint, over [`Administration`]: the catalog's use cases and this process's catalog
//! cache, which every change clears so the next request here sees it (other functions see it
//! within the cache's few seconds).
//!
//! Roles: [`list_roles`], [`create_role`], [`get_role`], [`update_role`], [`delete_role`],
//! [`set_role_permissions`]. Permissions: [`list_permissions`], [`create_permission`],
//! [`get_permission`], [`update_permission`], [`delete_permission`]. A user's roles are
//! assigned and revoked under `/users` ([`crate::users::assign_role`],
//! [`crate::users::revoke_role`]).

pub mod create_permission;
pub mod create_role;
pub mod delete_permission;
pub mod delete_role;
pub mod get_permission;
pub mod get_role;
pub mod list_permissions;
pub mod list_roles;
pub mod set_role_permissions;
pub mod update_permission;
pub mod update_role;
pub mod views;

use shared::rbac::admin::Actor;
use shared::rbac::model::seeded_role_id;
use shared::rbac::seed::ADMIN;
use shared::rbac::{CachedCatalog, Catalog, RbacAdmin};

use crate::auth::guard::Caller;
use crate::http::ApiError;

/// What the administration endpoints share.
#[derive(Debug, Clone)]
pub struct Administration {
    pub admin: RbacAdmin,
    /// The catalog cache of this process's guard.
    pub cache: CachedCatalog,
}

impl Administration {
    pub fn new(admin: RbacAdmin, cache: CachedCatalog) -> Self {
        Self { admin, cache }
    }

    /// The catalog as stored now, after this process's cache has been told of a change.
    pub async fn changed(&self) -> Result<Catalog, ApiError> {
        self.cache.invalidate();
        Ok(self.admin.catalog().await?)
    }
}

/// The caller, as the escalation rules see them.
pub fn actor(caller: &Caller) -> Actor<'_> {
    let admin = seeded_role_id(ADMIN);
    Actor {
        permissions: &caller.permissions,
        is_admin: caller.assignments.iter().any(|a| a.role_id == admin),
    }
}
