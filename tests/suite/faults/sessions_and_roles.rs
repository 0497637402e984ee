//! Sessions and administration under faults: a refresh, a logout, and the changes that move
//! the administrators' roster (giving and taking ADMIN, disabling an administrator). The
//! invariants of every state say what must hold: no session without its refresh token, and a
//! roster that lists exactly the users who count as administrators.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use infra::compose::Backend;
use shared::accounts::ClientInfo;
use shared::accounts::update::UserChanges;
use shared::rbac::model::{Assignment, seeded_role_id};
use shared::rbac::seed::ADMIN;
use shared::rbac::{Actor, RbacAdmin};
use shared::store::Write;
use shared::users::UserStatus;
use shared::users::repo::assignment_item;
use uuid::Uuid;

use super::accounts::{EMAIL, verified_account};
use super::{Case, FaultyBackend, Fresh};
use crate::auth::PASSWORD;

pub fn cases() -> Vec<Box<dyn Case>> {
    vec![
        Box::new(Refresh::default()),
        Box::new(Logout::default()),
        Box::new(GiveAdmin::default()),
        Box::new(TakeAdmin::default()),
        Box::new(DisableAdmin::default()),
    ]
}

/// What a prepared case acts on: the account, and its session and refresh token when signed in.
#[derive(Default)]
struct Prepared(Mutex<Option<(Uuid, Uuid, String)>>);

impl Prepared {
    async fn signed_in(&self, system: &Fresh) -> anyhow::Result<()> {
        verified_account(system).await?;
        let issuer = system.backend.token_issuer()?;
        let signed_in = system
            .backend
            .accounts()?
            .login(&issuer, EMAIL, PASSWORD, &ClientInfo::default())
            .await?;
        let refresh = signed_in.refresh.expose().to_owned();
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((signed_in.user.id, signed_in.session_id, refresh));
        Ok(())
    }

    /// A verified account; an administrator when `admin`.
    async fn account(&self, system: &Fresh, admin: bool) -> anyhow::Result<()> {
        let user = verified_account(system).await?;
        if admin {
            administration(system.backend.as_ref())?
                .assign(administrator(), user.id, seeded_role_id(ADMIN), None)
                .await?;
        }
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((user.id, Uuid::nil(), String::new()));
        Ok(())
    }

    fn get(&self) -> (Uuid, Uuid, String) {
        let prepared = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        prepared.clone().expect("the case was prepared")
    }
}

fn administration(backend: &dyn Backend) -> anyhow::Result<RbacAdmin> {
    Ok(RbacAdmin::new(
        backend.store()?,
        backend.clock(),
        backend.random(),
    ))
}

/// An administrator acting, who may hand out every role.
fn administrator() -> Actor<'static> {
    static NONE: BTreeSet<String> = BTreeSet::new();
    Actor {
        permissions: &NONE,
        is_admin: true,
    }
}

#[derive(Default)]
struct Refresh(Prepared);

#[async_trait]
impl Case for Refresh {
    fn name(&self) -> &'static str {
        "refresh a session"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        self.0.signed_in(system).await
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let (_, _, refresh) = self.0.get();
        if let (Ok(accounts), Ok(issuer)) = (backend.accounts(), backend.token_issuer()) {
            let _ = accounts.refresh(&issuer, &refresh).await;
        }
    }
}

#[derive(Default)]
struct Logout(Prepared);

#[async_trait]
impl Case for Logout {
    fn name(&self) -> &'static str {
        "log out"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        self.0.signed_in(system).await
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let (user, session, refresh) = self.0.get();
        if let Ok(accounts) = backend.accounts() {
            let _ = accounts.logout(user, session, Some(&refresh)).await;
        }
    }
}

#[derive(Default)]
struct GiveAdmin(Prepared);

#[async_trait]
impl Case for GiveAdmin {
    fn name(&self) -> &'static str {
        "give a user ADMIN"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        self.0.account(system, false).await
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let (user, _, _) = self.0.get();
        if let Ok(admin) = administration(backend) {
            let _ = admin
                .assign(administrator(), user, seeded_role_id(ADMIN), None)
                .await;
        }
    }
}

#[derive(Default)]
struct TakeAdmin(Prepared);

#[async_trait]
impl Case for TakeAdmin {
    fn name(&self) -> &'static str {
        "take ADMIN from a user"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        self.0.account(system, true).await
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let (user, _, _) = self.0.get();
        if let Ok(admin) = administration(backend) {
            let _ = admin
                .revoke(administrator(), user, seeded_role_id(ADMIN))
                .await;
        }
    }
}

#[derive(Default)]
struct DisableAdmin(Prepared);

#[async_trait]
impl Case for DisableAdmin {
    fn name(&self) -> &'static str {
        "disable an administrator"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        self.0.account(system, true).await
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let (user, _, _) = self.0.get();
        let changes = UserChanges {
            status: Some(UserStatus::Disabled),
            ..UserChanges::default()
        };
        if let Ok(accounts) = backend.accounts() {
            let _ = accounts.update_user(user, &changes, None).await;
        }
    }
}

/// What the checks must catch: ADMIN given without the roster knowing.
#[derive(Default)]
pub struct GiveAdminBehindTheRoster(Prepared);

#[async_trait]
impl Case for GiveAdminBehindTheRoster {
    fn name(&self) -> &'static str {
        "give a user ADMIN behind the roster"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        self.0.account(system, false).await
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let (user, _, _) = self.0.get();
        let assignment = Assignment {
            user_id: user,
            role_id: seeded_role_id(ADMIN),
            granted_at: backend.clock().now(),
            expires_at: None,
        };
        if let (Ok(store), Ok(item)) = (backend.store(), assignment_item(&assignment)) {
            let _ = store.transact(vec![Write::put(item)]).await;
        }
    }
}
