//! The permissions the code checks and the roles every deployment starts with, created
//! idempotently: seeding again (or from two places at once) changes nothing that exists.

use chrono::{DateTime, Utc};

use crate::rbac::model::{Permission, Role, seeded_permission_id, seeded_role_id};
use crate::rbac::names::{PermissionName, RoleName};
use crate::rbac::repo::{insert_permission_writes, insert_role_writes};
use crate::store::{ItemStore, StoreError};

pub const ADMIN: &str = "ADMIN";
pub const MODERATOR: &str = "MODERATOR";
pub const USER: &str = "USER";

/// Every permission the API checks, with what it allows.
pub const PERMISSIONS: &[(&str, &str)] = &[
    ("users:create", "Create users"),
    ("users:list", "List and search users"),
    ("users:read", "Read any user"),
    ("users:update", "Update any user, including their status"),
    ("users:delete", "Delete users"),
    ("roles:create", "Create roles"),
    ("roles:list", "List roles"),
    ("roles:read", "Read roles"),
    ("roles:update", "Update roles and their grants"),
    ("roles:delete", "Delete roles that are not seeded"),
    ("roles:assign", "Assign roles to users and take them away"),
    ("permissions:create", "Create permissions"),
    ("permissions:list", "List permissions"),
    ("permissions:read", "Read permissions"),
    ("permissions:update", "Update permissions"),
    (
        "permissions:delete",
        "Delete permissions that are not seeded",
    ),
    ("jobs:create", "Enqueue jobs"),
    ("jobs:list", "List jobs"),
    ("jobs:read", "Read jobs"),
    ("jobs:update", "Retry and cancel jobs"),
    ("system:read", "Read operational information"),
    ("system:manage", "Run maintenance tasks"),
];

/// The seeded roles: name, description, whether it grants everything, and its grants.
pub const ROLES: &[(&str, &str, bool, &[&str])] = &[
    (ADMIN, "Every permission", true, &[]),
    (
        MODERATOR,
        "Reads, lists and updates users",
        false,
        &["users:read", "users:list", "users:update"],
    ),
    (
        USER,
        "Every user; acts on their own account only",
        false,
        &[],
    ),
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub permissions_created: usize,
    pub roles_created: usize,
}

/// Creates whatever seeded permission or role is missing.
pub async fn seed(store: &dyn ItemStore, now: DateTime<Utc>) -> Result<SeedReport, StoreError> {
    let mut report = SeedReport::default();
    for (name, description) in PERMISSIONS {
        let permission = Permission {
            id: seeded_permission_id(name),
            name: PermissionName::parse(name).map_err(|e| StoreError::Unexpected(e.into()))?,
            description: (*description).to_owned(),
            seeded: true,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        if created(store.transact(insert_permission_writes(&permission)?).await)? {
            report.permissions_created += 1;
        }
    }
    for (name, description, grants_all, grants) in ROLES {
        let role = Role {
            id: seeded_role_id(name),
            name: RoleName::parse(name).map_err(|e| StoreError::Unexpected(e.into()))?,
            description: (*description).to_owned(),
            permission_ids: grants.iter().map(|p| seeded_permission_id(p)).collect(),
            grants_all: *grants_all,
            seeded: true,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        if created(store.transact(insert_role_writes(&role)?).await)? {
            report.roles_created += 1;
        }
    }
    if report != SeedReport::default() {
        tracing::info!(
            permissions = report.permissions_created,
            roles = report.roles_created,
            "seeded the role catalog"
        );
    }
    Ok(report)
}

/// A failed condition means the name or the item exists already: nothing to do.
fn created(result: Result<(), StoreError>) -> Result<bool, StoreError> {
    match result {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seeded_name_is_valid_and_every_grant_exists() {
        for (name, _) in PERMISSIONS {
            assert!(PermissionName::parse(name).is_ok(), "{name}");
        }
        for (name, _, _, grants) in ROLES {
            assert!(RoleName::parse(name).is_ok(), "{name}");
            for grant in *grants {
                assert!(
                    PERMISSIONS.iter().any(|(p, _)| p == grant),
                    "{name}: {grant}"
                );
            }
        }
    }
}
