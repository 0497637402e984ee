//! The roster of administrators, which keeps at least one of them.
//!
//! "The last active ADMIN cannot be unassigned, disabled or deleted" is a rule over many items
//! (every user's status and assignments), and two administrators removing each other at once
//! must leave one. The roster makes it a rule over one item: `RBAC` / `ADMINS` lists the users
//! who are active and hold ADMIN without an expiry (an expiring assignment runs out on its own,
//! so it never counts towards keeping the system administered). Every change that can move a
//! user in or out of that set — assigning or taking away ADMIN, disabling or enabling, deleting
//! a user — writes the roster in its own transaction, conditional on the roster's version as
//! read. Of two concurrent changes one commits; the other reads again and is judged against the
//! roster the first left behind.
//!
//! The roster is a hot item only for those administrative changes, never for a request's
//! authorization or for registration.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::rbac::model::{Assignment, seeded_role_id};
use crate::rbac::repo::PARTITION;
use crate::rbac::seed::ADMIN;
use crate::store::{Condition, Item, ItemStore, Key, StoreError, Write};
use crate::users::User;

pub const ROSTER_SK: &str = "ADMINS";

pub fn roster_key() -> Key {
    Key::new(PARTITION, ROSTER_SK)
}

/// The change would leave the system without an active administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the last active administrator cannot be removed, disabled or deleted")]
pub struct LastAdmin;

/// The administrators, as read at one version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub members: BTreeSet<Uuid>,
    /// 0 until the roster is first stored.
    pub version: u64,
}

impl Roster {
    pub async fn read(store: &dyn ItemStore) -> Result<Self, StoreError> {
        match store.get(&roster_key()).await? {
            Some(item) => item.record(),
            None => Ok(Self::default()),
        }
    }

    /// The write that stores this roster with `user` in it or not, conditional on the version
    /// read: it fails the transaction if anyone changed the roster since. It is written even
    /// when membership does not change, so that every administrative change of a user
    /// serializes with every other. [`LastAdmin`] when it would take out the last member.
    pub fn with_member(&self, user: Uuid, member: bool) -> Result<Write, LastAdmin> {
        let mut members = self.members.clone();
        if member {
            members.insert(user);
        } else if members.remove(&user) && members.is_empty() {
            return Err(LastAdmin);
        }
        let mut attrs = serde_json::Map::new();
        attrs.insert("members".into(), json!(members));
        attrs.insert("version".into(), json!(self.version + 1));
        let condition = if self.version == 0 {
            Condition::Absent
        } else {
            Condition::Equals("version".into(), json!(self.version))
        };
        Ok(Write::put_if(Item::new(roster_key(), attrs), condition))
    }
}

/// Whether a user with these assignments counts as an administrator: active, holding ADMIN
/// without an expiry.
pub fn counts_as_admin(user: &User, assignments: &[Assignment]) -> bool {
    let admin = seeded_role_id(ADMIN);
    user.is_active()
        && assignments
            .iter()
            .any(|a| a.role_id == admin && a.expires_at.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_member_cannot_leave_but_others_can() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let roster = Roster {
            members: [a, b].into(),
            version: 3,
        };
        assert!(roster.with_member(a, false).is_ok());
        let one = Roster {
            members: [b].into(),
            version: 4,
        };
        assert_eq!(one.with_member(b, false), Err(LastAdmin));
        // Someone who is not a member may always be taken out (nothing changes).
        assert!(one.with_member(a, false).is_ok());
        assert!(Roster::default().with_member(a, false).is_ok());
    }

    #[test]
    fn the_write_is_conditional_on_the_version_read() {
        let first = Roster::default().with_member(Uuid::now_v7(), true).unwrap();
        assert!(matches!(
            first,
            Write::Put {
                condition: Some(Condition::Absent),
                ..
            }
        ));
        let later = Roster {
            members: BTreeSet::new(),
            version: 7,
        };
        let Write::Put {
            item,
            condition: Some(Condition::Equals(field, value)),
        } = later.with_member(Uuid::now_v7(), true).unwrap()
        else {
            panic!("not a conditional put");
        };
        assert_eq!((field.as_str(), value), ("version", json!(7)));
        assert_eq!(item.attrs["version"], json!(8));
    }
}
