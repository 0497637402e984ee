//! The catalog: every role and permission, read in one query and cached for a few seconds.
//!
//! Authorizing a request needs the caller's roles (read with the caller) and what those roles
//! grant (this catalog). The catalog changes rarely and is the same for everyone, so a function
//! keeps it for [`CACHE_TTL`]: a change to a role reaches every caller within that time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::cache::TtlCache;
use crate::rbac::model::{Assignment, Permission, Role};
use crate::rbac::repo::{PARTITION, PERMISSION_PREFIX, ROLE_PREFIX};
use crate::store::{ItemStore, Query, StoreError};

pub const CACHE_TTL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub roles: BTreeMap<Uuid, Role>,
    pub permissions: BTreeMap<Uuid, Permission>,
}

/// One permission a user holds, and the role it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant<'a> {
    pub permission: &'a Permission,
    pub role: &'a Role,
}

impl Catalog {
    /// Reads every role and permission.
    pub async fn load(store: &dyn ItemStore) -> Result<Self, StoreError> {
        let mut catalog = Catalog::default();
        let mut cursor = None;
        loop {
            let page = store
                .query(Query::partition(PARTITION).limit(1000).after(cursor))
                .await?;
            for item in &page.items {
                if item.key.sk.starts_with(ROLE_PREFIX) {
                    let role: Role = item.record()?;
                    catalog.roles.insert(role.id, role);
                } else if item.key.sk.starts_with(PERMISSION_PREFIX) {
                    let permission: Permission = item.record()?;
                    catalog.permissions.insert(permission.id, permission);
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(catalog),
            }
        }
    }

    pub fn role(&self, id: Uuid) -> Option<&Role> {
        self.roles.get(&id)
    }

    pub fn role_named(&self, name: &str) -> Option<&Role> {
        self.roles.values().find(|r| r.name.as_str() == name)
    }

    /// What a role grants, by name order.
    pub fn permissions_of<'a>(&'a self, role: &'a Role) -> Vec<&'a Permission> {
        let mut permissions: Vec<&Permission> = if role.grants_all {
            self.permissions.values().collect()
        } else {
            role.permission_ids
                .iter()
                .filter_map(|id| self.permissions.get(id))
                .collect()
        };
        permissions.sort_by(|a, b| a.name.cmp(&b.name));
        permissions
    }

    /// Every permission the assignments grant, each with the role granting it (roles in name
    /// order; a permission granted by two roles appears twice).
    pub fn grants(&self, assignments: &[Assignment]) -> Vec<Grant<'_>> {
        let mut roles: Vec<&Role> = assignments
            .iter()
            .filter_map(|a| self.roles.get(&a.role_id))
            .collect();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        roles
            .into_iter()
            .flat_map(|role| {
                self.permissions_of(role)
                    .into_iter()
                    .map(move |permission| Grant { permission, role })
            })
            .collect()
    }

    /// The names of the permissions the assignments grant.
    pub fn permission_names(&self, assignments: &[Assignment]) -> BTreeSet<String> {
        self.grants(assignments)
            .into_iter()
            .map(|g| g.permission.name.to_string())
            .collect()
    }
}

/// A [`Catalog`] kept in the process for a few seconds.
#[derive(Debug, Clone)]
pub struct CachedCatalog {
    store: Arc<dyn ItemStore>,
    cached: TtlCache<Arc<Catalog>>,
}

impl CachedCatalog {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self::with_ttl(store, CACHE_TTL)
    }

    pub fn with_ttl(store: Arc<dyn ItemStore>, ttl: Duration) -> Self {
        Self {
            store,
            cached: TtlCache::new(ttl),
        }
    }

    pub async fn get(&self) -> Result<Arc<Catalog>, StoreError> {
        if let Some(catalog) = self.cached.fresh() {
            return Ok(catalog);
        }
        let catalog = Arc::new(Catalog::load(self.store.as_ref()).await?);
        self.cached.store(catalog.clone());
        Ok(catalog)
    }

    /// Forgets the cached catalog, so the next read sees a change made by this process.
    pub fn invalidate(&self) {
        self.cached.clear();
    }
}
