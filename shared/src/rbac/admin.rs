//! Administering the catalog: roles and permissions created, renamed, described and deleted,
//! and what a role grants.
//!
//! Every change is conditional on the version read (a concurrent change is read again, never
//! overwritten) and keeps names unique through their claims. Nobody grants more than they
//! hold: a role may be given only permissions its author holds, and a role that grants
//! everything (ADMIN) cannot have its grants edited at all. Seeded roles and permissions are
//! the ones the code relies on: they cannot be deleted or renamed.
//!
//! Deleting a role leaves its assignments behind, and deleting a permission leaves its id in
//! grants until they are rewritten: both are harmless, because the catalog resolves roles and
//! permissions by id and an id it does not hold grants nothing. The permission's grants are
//! rewritten right after, so views never show a dangling id.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use crate::clock::{Clock, Random};
use crate::rbac::catalog::Catalog;
use crate::rbac::model::{Permission, Role};
use crate::rbac::names::{PermissionName, RoleName};
use crate::rbac::repo::{
    insert_permission_writes, insert_role_writes, permission_key, permission_name_key, role_key,
    role_name_key,
};
use crate::store::{Condition, Item, ItemStore, Key, StoreError, Write};

/// How many times a change is read and tried again when someone else changed the same item.
const ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    #[error("no such role or permission")]
    NotFound,
    #[error("the name is taken")]
    NameTaken,
    /// Seeded roles and permissions cannot be deleted or renamed.
    #[error("{0}")]
    Seeded(&'static str),
    /// The ADMIN role grants every permission; its grants are not a list to edit.
    #[error("the role grants every permission; its grants cannot be changed")]
    GrantsAll,
    #[error("no such permission: {0:?}")]
    UnknownPermissions(Vec<Uuid>),
    #[error("no such role")]
    UnknownRole,
    /// The caller asked to grant or assign more than they hold.
    #[error("{0}")]
    Escalation(String),
    #[error(transparent)]
    LastAdmin(#[from] crate::rbac::admins::LastAdmin),
    #[error("{field}: {message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for RbacError {
    fn from(error: StoreError) -> Self {
        RbacError::Unexpected(error.into())
    }
}

/// Who asks, as far as escalation is concerned: the permissions they hold and whether they are
/// an administrator.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub permissions: &'a BTreeSet<String>,
    pub is_admin: bool,
}

impl Actor<'_> {
    /// Whether the actor may hand out everything `role` grants: ADMIN's everything only to an
    /// administrator, any other role's grants only to someone holding each of them.
    pub fn check_may_hand_out(&self, catalog: &Catalog, role: &Role) -> Result<(), RbacError> {
        if role.grants_all {
            return if self.is_admin {
                Ok(())
            } else {
                Err(RbacError::Escalation(format!(
                    "only an administrator may hand out {}",
                    role.name
                )))
            };
        }
        let names = catalog
            .permissions_of(role)
            .into_iter()
            .map(|p| p.name.to_string());
        self.check_holds(names)
    }

    /// Whether the actor holds every one of these permissions.
    pub fn check_holds(&self, names: impl IntoIterator<Item = String>) -> Result<(), RbacError> {
        let missing: Vec<String> = names
            .into_iter()
            .filter(|name| !self.is_admin && !self.permissions.contains(name))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(RbacError::Escalation(format!(
                "you cannot grant what you do not hold: {}",
                missing.join(", ")
            )))
        }
    }
}

/// A new role's fields, parsed.
#[derive(Debug, Clone)]
pub struct NewRole {
    pub name: RoleName,
    pub description: String,
    pub permission_ids: BTreeSet<Uuid>,
}

/// A new permission's fields, parsed.
#[derive(Debug, Clone)]
pub struct NewPermission {
    pub name: PermissionName,
    pub description: String,
}

/// The fields a change of a role or permission sets; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes<N> {
    pub name: Option<N>,
    pub description: Option<String>,
}

/// The ports the catalog's administration takes.
#[derive(Debug, Clone)]
pub struct RbacAdmin {
    pub store: Arc<dyn ItemStore>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
}

impl RbacAdmin {
    pub fn new(store: Arc<dyn ItemStore>, clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Self {
        Self {
            store,
            clock,
            random,
        }
    }

    /// The whole catalog, as stored now.
    pub async fn catalog(&self) -> Result<Catalog, RbacError> {
        Ok(Catalog::load(self.store.as_ref()).await?)
    }

    pub async fn role(&self, id: Uuid) -> Result<Role, RbacError> {
        match self.store.get(&role_key(id)).await? {
            Some(item) => Ok(item.record()?),
            None => Err(RbacError::NotFound),
        }
    }

    pub async fn permission(&self, id: Uuid) -> Result<Permission, RbacError> {
        match self.store.get(&permission_key(id)).await? {
            Some(item) => Ok(item.record()?),
            None => Err(RbacError::NotFound),
        }
    }

    pub async fn create_role(&self, actor: Actor<'_>, new: NewRole) -> Result<Role, RbacError> {
        let catalog = self.catalog().await?;
        let granted = granted_names(&catalog, &new.permission_ids)?;
        actor.check_holds(granted)?;
        let now = self.clock.now();
        let role = Role {
            id: self.random.id(),
            name: new.name,
            description: new.description,
            permission_ids: new.permission_ids,
            grants_all: false,
            seeded: false,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        match self.store.transact(insert_role_writes(&role)?).await {
            Ok(()) => {
                tracing::info!(role_id = %role.id, name = %role.name, "role created");
                Ok(role)
            }
            Err(StoreError::ConditionFailed { index: 0 }) => Err(RbacError::NameTaken),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_role(
        &self,
        id: Uuid,
        changes: &Changes<RoleName>,
    ) -> Result<Role, RbacError> {
        for _ in 0..ATTEMPTS {
            let role = self.role(id).await?;
            let renamed = changes.name.as_ref().filter(|name| **name != role.name);
            if renamed.is_some() && role.seeded {
                return Err(RbacError::Seeded("a seeded role cannot be renamed"));
            }
            let changed = Role {
                name: renamed.cloned().unwrap_or_else(|| role.name.clone()),
                description: changes
                    .description
                    .clone()
                    .unwrap_or_else(|| role.description.clone()),
                updated_at: self.clock.now(),
                version: role.version + 1,
                ..role.clone()
            };
            let rename = renamed.map(|name| (role_name_key(&role.name), role_name_key(name)));
            let writes = save_writes(role_key(id), role.version, &changed, rename, id)?;
            match self.commit(writes, renamed.is_some()).await? {
                Some(()) => return Ok(changed),
                None => continue,
            }
        }
        Err(kept_changing("role", id))
    }

    /// Replaces what a role grants. The actor must hold every permission of the new set.
    pub async fn set_role_permissions(
        &self,
        actor: Actor<'_>,
        id: Uuid,
        permission_ids: BTreeSet<Uuid>,
    ) -> Result<Role, RbacError> {
        for _ in 0..ATTEMPTS {
            let catalog = self.catalog().await?;
            let role = catalog.role(id).cloned().ok_or(RbacError::NotFound)?;
            if role.grants_all {
                return Err(RbacError::GrantsAll);
            }
            actor.check_holds(granted_names(&catalog, &permission_ids)?)?;
            let changed = Role {
                permission_ids: permission_ids.clone(),
                updated_at: self.clock.now(),
                version: role.version + 1,
                ..role.clone()
            };
            let writes = save_writes(role_key(id), role.version, &changed, None, id)?;
            if self.commit(writes, false).await?.is_some() {
                tracing::info!(role_id = %id, grants = permission_ids.len(), "role grants replaced");
                return Ok(changed);
            }
        }
        Err(kept_changing("role", id))
    }

    /// Deletes a role that is not seeded, with its name claim. Its assignments grant nothing
    /// from then on (see the module documentation).
    pub async fn delete_role(&self, id: Uuid) -> Result<(), RbacError> {
        let role = self.role(id).await?;
        if role.seeded {
            return Err(RbacError::Seeded("a seeded role cannot be deleted"));
        }
        let writes = vec![
            Write::delete_if(role_key(id), Condition::Present),
            Write::delete(role_name_key(&role.name)),
        ];
        match self.store.transact(writes).await {
            Ok(()) => {
                tracing::info!(role_id = %id, name = %role.name, "role deleted");
                Ok(())
            }
            Err(StoreError::ConditionFailed { .. }) => Err(RbacError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn create_permission(&self, new: NewPermission) -> Result<Permission, RbacError> {
        let now = self.clock.now();
        let permission = Permission {
            id: self.random.id(),
            name: new.name,
            description: new.description,
            seeded: false,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        match self
            .store
            .transact(insert_permission_writes(&permission)?)
            .await
        {
            Ok(()) => {
                tracing::info!(permission_id = %permission.id, name = %permission.name, "permission created");
                Ok(permission)
            }
            Err(StoreError::ConditionFailed { index: 0 }) => Err(RbacError::NameTaken),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_permission(
        &self,
        id: Uuid,
        changes: &Changes<PermissionName>,
    ) -> Result<Permission, RbacError> {
        for _ in 0..ATTEMPTS {
            let permission = self.permission(id).await?;
            let renamed = changes
                .name
                .as_ref()
                .filter(|name| **name != permission.name);
            if renamed.is_some() && permission.seeded {
                return Err(RbacError::Seeded(
                    "a seeded permission is checked by name: it cannot be renamed",
                ));
            }
            let changed = Permission {
                name: renamed.cloned().unwrap_or_else(|| permission.name.clone()),
                description: changes
                    .description
                    .clone()
                    .unwrap_or_else(|| permission.description.clone()),
                updated_at: self.clock.now(),
                version: permission.version + 1,
                ..permission.clone()
            };
            let rename = renamed.map(|name| {
                (
                    permission_name_key(&permission.name),
                    permission_name_key(name),
                )
            });
            let writes = save_writes(permission_key(id), permission.version, &changed, rename, id)?;
            if self.commit(writes, renamed.is_some()).await?.is_some() {
                return Ok(changed);
            }
        }
        Err(kept_changing("permission", id))
    }

    /// Deletes a permission that is not seeded, then takes it out of every role that grants
    /// it. From the first step on it grants nothing; a failure in the second leaves only
    /// dangling ids, which the next call (or any later change of those roles) removes.
    pub async fn delete_permission(&self, id: Uuid) -> Result<(), RbacError> {
        match self.permission(id).await {
            Ok(permission) => {
                if permission.seeded {
                    return Err(RbacError::Seeded("a seeded permission cannot be deleted"));
                }
                let writes = vec![
                    Write::delete_if(permission_key(id), Condition::Present),
                    Write::delete(permission_name_key(&permission.name)),
                ];
                match self.store.transact(writes).await {
                    Ok(()) => {}
                    Err(StoreError::ConditionFailed { .. }) => return Err(RbacError::NotFound),
                    Err(e) => return Err(e.into()),
                }
                tracing::info!(permission_id = %id, name = %permission.name, "permission deleted");
                self.strip_grants(id).await
            }
            // Deleted already: finish what an interrupted call may have left.
            Err(RbacError::NotFound) => {
                self.strip_grants(id).await?;
                Err(RbacError::NotFound)
            }
            Err(e) => Err(e),
        }
    }

    /// Takes a permission id out of every role that still grants it.
    async fn strip_grants(&self, permission_id: Uuid) -> Result<(), RbacError> {
        for _ in 0..ATTEMPTS {
            let catalog = self.catalog().await?;
            let holding: Vec<&Role> = catalog
                .roles
                .values()
                .filter(|r| r.permission_ids.contains(&permission_id))
                .collect();
            if holding.is_empty() {
                return Ok(());
            }
            let mut conflicted = false;
            for role in holding {
                let mut changed = role.clone();
                changed.permission_ids.remove(&permission_id);
                changed.updated_at = self.clock.now();
                changed.version = role.version + 1;
                let writes = save_writes(role_key(role.id), role.version, &changed, None, role.id)?;
                conflicted |= self.commit(writes, false).await?.is_none();
            }
            if !conflicted {
                return Ok(());
            }
        }
        Err(kept_changing("permission's grants", permission_id))
    }

    /// Commits a save; `None` when the item changed since it was read (read again and retry).
    /// With a rename, the writes are: the old claim, the new claim, the item.
    async fn commit(&self, writes: Vec<Write>, renaming: bool) -> Result<Option<()>, RbacError> {
        match self.store.transact(writes).await {
            Ok(()) => Ok(Some(())),
            Err(StoreError::ConditionFailed { index: 1 }) if renaming => Err(RbacError::NameTaken),
            Err(StoreError::ConditionFailed { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The names of the permissions `ids` name, or which of them do not exist.
fn granted_names(catalog: &Catalog, ids: &BTreeSet<Uuid>) -> Result<Vec<String>, RbacError> {
    let unknown: Vec<Uuid> = ids
        .iter()
        .filter(|id| !catalog.permissions.contains_key(id))
        .copied()
        .collect();
    if !unknown.is_empty() {
        return Err(RbacError::UnknownPermissions(unknown));
    }
    Ok(ids
        .iter()
        .filter_map(|id| catalog.permissions.get(id))
        .map(|p| p.name.to_string())
        .collect())
}

/// The writes that save a record over the version read, moving its name claim when renamed
/// (`(old claim, new claim)`): old claim, new claim, record — or just the record.
fn save_writes<T: serde::Serialize>(
    key: Key,
    read_version: u64,
    record: &T,
    rename: Option<(Key, Key)>,
    id: Uuid,
) -> Result<Vec<Write>, RbacError> {
    let save = Write::put_if(
        Item::from_record(key, record)?,
        Condition::Equals("version".into(), json!(read_version)),
    );
    Ok(match rename {
        Some((old, new)) => {
            let mut claim = serde_json::Map::new();
            claim.insert("id".into(), json!(id));
            vec![
                Write::delete(old),
                Write::put_if(Item::new(new, claim), Condition::Absent),
                save,
            ]
        }
        None => vec![save],
    })
}

fn kept_changing(what: &str, id: Uuid) -> RbacError {
    RbacError::Unexpected(anyhow::anyhow!(
        "{what} {id} kept changing while it was being changed"
    ))
}
