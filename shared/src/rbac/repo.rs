//! Roles and permissions in the item store.
//!
//! The whole catalog lives in one partition, `RBAC`, so one query reads it: roles under
//! `ROLE#<id>`, permissions under `PERM#<id>`, and a claim per name (`ROLENAME#<name>`,
//! `PERMNAME#<name>`) that keeps names unique. Assignments live with their user (see
//! [`crate::users::repo`]).

use serde_json::json;
use uuid::Uuid;

use crate::rbac::model::{Permission, Role};
use crate::rbac::names::{PermissionName, RoleName};
use crate::store::{Condition, Item, Key, StoreError, Write};

pub const PARTITION: &str = "RBAC";
pub const ROLE_PREFIX: &str = "ROLE#";
pub const PERMISSION_PREFIX: &str = "PERM#";

pub fn role_key(id: Uuid) -> Key {
    Key::new(PARTITION, format!("{ROLE_PREFIX}{id}"))
}

pub fn permission_key(id: Uuid) -> Key {
    Key::new(PARTITION, format!("{PERMISSION_PREFIX}{id}"))
}

pub fn role_name_key(name: &RoleName) -> Key {
    Key::new(PARTITION, format!("ROLENAME#{name}"))
}

pub fn permission_name_key(name: &PermissionName) -> Key {
    Key::new(PARTITION, format!("PERMNAME#{name}"))
}

/// The writes that create a role and claim its name; the transaction fails at index 0 when
/// the name is taken, at index 1 when the id is.
pub fn insert_role_writes(role: &Role) -> Result<Vec<Write>, StoreError> {
    let claim = Item::new(role_name_key(&role.name), claim_attrs(role.id));
    Ok(vec![
        Write::put_if(claim, Condition::Absent),
        Write::put_if(
            Item::from_record(role_key(role.id), role)?,
            Condition::Absent,
        ),
    ])
}

/// The writes that create a permission and claim its name (index 0: name taken).
pub fn insert_permission_writes(permission: &Permission) -> Result<Vec<Write>, StoreError> {
    let claim = Item::new(
        permission_name_key(&permission.name),
        claim_attrs(permission.id),
    );
    Ok(vec![
        Write::put_if(claim, Condition::Absent),
        Write::put_if(
            Item::from_record(permission_key(permission.id), permission)?,
            Condition::Absent,
        ),
    ])
}

fn claim_attrs(id: Uuid) -> serde_json::Map<String, serde_json::Value> {
    let mut attrs = serde_json::Map::new();
    attrs.insert("id".into(), json!(id));
    attrs
}
