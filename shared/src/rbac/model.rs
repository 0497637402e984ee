//! Permissions, roles that grant them, and the assignment of roles to users.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::rbac::names::{PermissionName, RoleName};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    pub id: Uuid,
    pub name: PermissionName,
    #[serde(default)]
    pub description: String,
    /// Seeded permissions are the ones the code checks; they cannot be deleted.
    #[serde(default)]
    pub seeded: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub id: Uuid,
    pub name: RoleName,
    #[serde(default)]
    pub description: String,
    /// The permissions this role grants.
    pub permission_ids: BTreeSet<Uuid>,
    /// The role grants every permission, present and future (ADMIN).
    #[serde(default)]
    pub grants_all: bool,
    /// Seeded roles cannot be deleted.
    #[serde(default)]
    pub seeded: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// A role held by a user, until `expires_at` when set (the store forgets it then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub granted_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// The id a seeded role or permission always has, in every deployment: derived from its name,
/// so seeding twice (or from two places at once) writes the same items.
pub fn seeded_id(kind: &str, name: &str) -> Uuid {
    let digest = Sha256::digest(format!("{kind}:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

pub fn seeded_role_id(name: &str) -> Uuid {
    seeded_id("role", name)
}

pub fn seeded_permission_id(name: &str) -> Uuid {
    seeded_id("permission", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_ids_are_stable_and_distinct_per_kind() {
        assert_eq!(seeded_role_id("ADMIN"), seeded_role_id("ADMIN"));
        assert_ne!(seeded_role_id("ADMIN"), seeded_role_id("USER"));
        assert_ne!(seeded_id("role", "x"), seeded_id("permission", "x"));
        assert_eq!(seeded_role_id("ADMIN").get_version_num(), 8);
    }
}
