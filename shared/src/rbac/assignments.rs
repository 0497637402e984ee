//! Giving a user a role and taking it away.
//!
//! Both are conditional on the user as read (a user disabled or deleted meanwhile is read
//! again), both follow the escalation rule ([`Actor::check_may_hand_out`]: only what the actor
//! holds, ADMIN only by an administrator), and changes of ADMIN go through the
//! [administrators' roster](crate::rbac::admins), so the last administrator keeps the role.
//! The guard reads a user's assignments on every request: a change applies to their next one.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::rbac::admin::{Actor, RbacAdmin, RbacError};
use crate::rbac::admins::{Roster, counts_as_admin};
use crate::rbac::model::{Assignment, seeded_role_id};
use crate::rbac::seed::ADMIN;
use crate::store::{Condition, StoreError, Write};
use crate::users::UserRepo;
use crate::users::repo::{UserWithRoles, assignment_item, assignment_key, user_key};

const ATTEMPTS: usize = 3;

impl RbacAdmin {
    /// Gives `user_id` the role, until `expires_at` if set (an expired assignment grants
    /// nothing: the store forgets it). Assigning a role the user holds replaces its expiry.
    pub async fn assign(
        &self,
        actor: Actor<'_>,
        user_id: Uuid,
        role_id: Uuid,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Assignment, RbacError> {
        let now = self.clock.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(RbacError::InvalidField {
                field: "expires_at",
                message: "must be in the future".into(),
            });
        }
        for _ in 0..ATTEMPTS {
            let catalog = self.catalog().await?;
            let role = catalog.role(role_id).ok_or(RbacError::UnknownRole)?;
            actor.check_may_hand_out(&catalog, role)?;
            let read = self.user(user_id).await?;
            let assignment = Assignment {
                user_id,
                role_id,
                granted_at: now,
                expires_at,
            };
            let mut after: Vec<Assignment> = read
                .assignments
                .iter()
                .filter(|a| a.role_id != role_id)
                .cloned()
                .collect();
            after.push(assignment.clone());
            let mut writes = vec![Write::put(assignment_item(&assignment)?), unchanged(&read)];
            writes.extend(self.roster_write(&read, role_id, &after).await?);
            if self.committed(writes).await? {
                tracing::info!(user_id = %user_id, role_id = %role_id, "role assigned");
                return Ok(assignment);
            }
        }
        Err(kept_changing(user_id))
    }

    /// Takes the role away from `user_id`; holding it or not, the user no longer does after.
    pub async fn revoke(
        &self,
        actor: Actor<'_>,
        user_id: Uuid,
        role_id: Uuid,
    ) -> Result<(), RbacError> {
        for _ in 0..ATTEMPTS {
            let catalog = self.catalog().await?;
            // A role deleted since it was assigned grants nothing; anyone may clear it away.
            if let Some(role) = catalog.role(role_id) {
                actor.check_may_hand_out(&catalog, role)?;
            }
            let read = self.user(user_id).await?;
            if !read.assignments.iter().any(|a| a.role_id == role_id) {
                return Ok(());
            }
            let after: Vec<Assignment> = read
                .assignments
                .iter()
                .filter(|a| a.role_id != role_id)
                .cloned()
                .collect();
            let mut writes = vec![
                Write::delete(assignment_key(user_id, role_id)),
                unchanged(&read),
            ];
            writes.extend(self.roster_write(&read, role_id, &after).await?);
            if self.committed(writes).await? {
                tracing::info!(user_id = %user_id, role_id = %role_id, "role revoked");
                return Ok(());
            }
        }
        Err(kept_changing(user_id))
    }

    async fn user(&self, id: Uuid) -> Result<UserWithRoles, RbacError> {
        UserRepo::new(self.store.clone())
            .with_roles(id)
            .await?
            .ok_or(RbacError::NotFound)
    }

    /// For a change of ADMIN: the roster with the user in or out, as the assignments after the
    /// change say.
    async fn roster_write(
        &self,
        read: &UserWithRoles,
        role_id: Uuid,
        after: &[Assignment],
    ) -> Result<Option<Write>, RbacError> {
        if role_id != seeded_role_id(ADMIN) {
            return Ok(None);
        }
        let roster = Roster::read(self.store.as_ref()).await?;
        let member = counts_as_admin(&read.user, after);
        Ok(Some(roster.with_member(read.user.id, member)?))
    }

    /// Whether the writes committed; `false` when something read changed meanwhile.
    async fn committed(&self, writes: Vec<Write>) -> Result<bool, RbacError> {
        match self.store.transact(writes).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Fails the transaction unless the user is still at the version read: a user disabled,
/// enabled or deleted meanwhile is read again.
fn unchanged(read: &UserWithRoles) -> Write {
    Write::check(
        user_key(read.user.id),
        Condition::Equals("version".into(), json!(read.user.version)),
    )
}

fn kept_changing(user_id: Uuid) -> RbacError {
    RbacError::Unexpected(anyhow::anyhow!(
        "user {user_id} kept changing while their roles were being changed"
    ))
}
