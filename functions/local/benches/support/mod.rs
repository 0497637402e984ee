//! What the benchmarks share: a local backend in a directory of its own, with signing keys, the
//! seeded role catalog and one verified administrator.

#![allow(dead_code)]

pub(crate) mod cost;
pub(crate) mod server;

use infra::compose::{Backend, LocalBackend};
use infra::config::LocalConfig;
use shared::accounts::register::NewAccount;
use shared::auth::password::Password;
use shared::rbac::model::seeded_role_id;
use shared::rbac::seed::{self, ADMIN};
use shared::users::{Email, Name, User};
use tempfile::TempDir;

pub(crate) const EMAIL: &str = "ada@example.com";
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A local backend in its own directory (keep the directory as long as the backend): signing
/// keys, the seeded catalog, and a verified administrator ([`EMAIL`], [`PASSWORD`]), so every
/// endpoint can be called.
pub(crate) async fn fixture() -> anyhow::Result<(LocalBackend, User, TempDir)> {
    let dir = tempfile::tempdir()?;
    let backend =
        LocalBackend::open_default(LocalConfig::new(dir.path(), "http://localhost")).await?;
    let now = backend.clock().now();
    infra::compose::ensure_keys(&backend).await?;
    seed::seed(backend.store()?.as_ref(), now).await?;
    let mut new = account(EMAIL, PASSWORD, true)?;
    new.extra_roles = vec![seeded_role_id(ADMIN)];
    let user = backend.accounts()?.create(new).await?;
    Ok((backend, user, dir))
}

/// A new account named Ada.
pub(crate) fn account(email: &str, password: &str, verified: bool) -> anyhow::Result<NewAccount> {
    Ok(NewAccount {
        email: Email::parse(email)?,
        name: Name::parse("Ada")?,
        phone: None,
        password: Password::parse(password.into())?,
        verified,
        extra_roles: Vec::new(),
    })
}
