//! The admin command line: one-off operations against either backend, run by an operator.
//!
//! ```text
//! admin [--data-dir DIR] init-keys
//! admin [--data-dir DIR] rotate-keys
//! admin [--data-dir DIR] revoke-key KID
//! admin [--data-dir DIR] seed
//! ADMIN_PASSWORD=... admin [--data-dir DIR] create-admin EMAIL
//! ```
//!
//! Without `--data-dir` it works on AWS, configured from the environment like a function
//! (`TABLE_NAME`, `SIGNING_KEYS_SECRET`, `PUBLIC_KEYS_SECRET`, the usual AWS variables); with it, on the local
//! system's data. The password comes from the environment, never from the command line, where
//! other users of the machine could read it.

use std::path::PathBuf;

use anyhow::{Context, bail};
use infra::compose::{AwsBackend, Backend, LocalBackend, Services};
use infra::config::LocalConfig;
use shared::auth::keys::KeySet;
use shared::auth::password::Password;
use shared::clock::OsRandom;
use shared::rbac::seed::seed;
use shared::users::{Email, Name};

pub const USAGE: &str = "usage: admin [--data-dir DIR] <command>
commands:
  init-keys           create the token signing key set (current + next key) unless one exists; prints its kid
  rotate-keys         retire the current signing key, promote the next one and add a new next key
  revoke-key KID      drop a leaked signing key at once, whatever its state (a dropped current key is
                      replaced by the next one); its tokens stop verifying within a minute
  seed                create the seeded permissions and roles (ADMIN, MODERATOR, USER) that are missing
  create-admin EMAIL  seed, then create a verified user with the ADMIN role (password from ADMIN_PASSWORD),
                      or give the ADMIN role to the existing user with that address
options:
  --data-dir DIR   act on the local system's data under DIR instead of on AWS";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    InitKeys,
    RotateKeys,
    RevokeKey { kid: String },
    Seed,
    CreateAdmin { email: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub data_dir: Option<PathBuf>,
    pub command: Command,
}

impl Invocation {
    pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Self> {
        let mut args = args.into_iter();
        let (mut data_dir, mut command) = (None, None);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--data-dir" => {
                    data_dir = Some(PathBuf::from(
                        args.next().context("--data-dir needs a value")?,
                    ))
                }
                "init-keys" if command.is_none() => command = Some(Command::InitKeys),
                "rotate-keys" if command.is_none() => command = Some(Command::RotateKeys),
                "revoke-key" if command.is_none() => {
                    let kid = args.next().context("revoke-key needs the key's id (kid)")?;
                    command = Some(Command::RevokeKey { kid });
                }
                "seed" if command.is_none() => command = Some(Command::Seed),
                "create-admin" if command.is_none() => {
                    let email = args.next().context("create-admin needs an email address")?;
                    command = Some(Command::CreateAdmin { email });
                }
                other => bail!("unexpected argument {other:?}"),
            }
        }
        let command = command.context("no command given")?;
        Ok(Self { data_dir, command })
    }
}

/// Runs the command and returns what to tell the operator.
pub async fn run(invocation: Invocation) -> anyhow::Result<String> {
    run_with_env(invocation, |name| std::env::var(name).ok()).await
}

/// [`run`], reading the environment through `env`.
pub async fn run_with_env(
    invocation: Invocation,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<String> {
    let backend: Box<dyn Backend> = match &invocation.data_dir {
        // The base URL only matters to signed blob links, which no admin command makes.
        Some(dir) => Box::new(LocalBackend::open_default(local_config(dir)).await?),
        None => Box::new(AwsBackend::from_env(Services::ALL).await?),
    };
    let name = backend.settings().signing_keys_secret.as_str();
    let public = backend.settings().public_keys_secret.as_str();
    match invocation.command {
        Command::InitKeys => {
            let set = infra::compose::ensure_keys(backend.as_ref()).await?;
            Ok(format!(
                "signing key set {name}: current kid {}; public half in {public}",
                set.current().kid
            ))
        }
        Command::RotateKeys => {
            // Verifiers trust the next key before it signs (it is published), and a retired
            // key verifies until the tokens it signed have expired. Rotate less often than
            // once per token lifetime plus the functions' key cache, so a retired key is never
            // dropped while a function still signs with it.
            let secrets = backend.secrets()?;
            let mut set = KeySet::load(secrets.as_ref(), name).await?;
            let lifetime = backend.access_tokens()?.max_token_lifetime();
            set.rotate(backend.clock().now(), &OsRandom, lifetime);
            set.store(secrets.as_ref(), name, public).await?;
            Ok(format!(
                "signing key set {name} rotated: current kid {}",
                set.current().kid
            ))
        }
        Command::RevokeKey { kid } => {
            // Functions read the set again within key_cache::CACHE_TTL (a minute): until then
            // a warm function still trusts the key. Tokens it signed stop then, cached
            // verifications included, since those check the set on every use.
            let secrets = backend.secrets()?;
            let mut set = KeySet::load(secrets.as_ref(), name).await?;
            let state = set.revoke(&kid, backend.clock().now(), &OsRandom)?;
            set.store(secrets.as_ref(), name, public).await?;
            Ok(format!(
                "signing key {kid} ({state:?}) revoked from {name}: current kid {}; warm functions \
                 stop trusting it within {} s",
                set.current().kid,
                shared::auth::key_cache::CACHE_TTL.as_secs()
            ))
        }
        Command::Seed => {
            let report = seed(backend.store()?.as_ref(), backend.clock().now()).await?;
            Ok(format!(
                "seeded: {} permissions and {} roles created",
                report.permissions_created, report.roles_created
            ))
        }
        Command::CreateAdmin { email } => {
            let email = Email::parse(&email).context("not an email address")?;
            let password = env("ADMIN_PASSWORD")
                .context("set the administrator's password in ADMIN_PASSWORD")?;
            let password = Password::parse(password).context("ADMIN_PASSWORD")?;
            seed(backend.store()?.as_ref(), backend.clock().now()).await?;
            let (user, created) = backend
                .accounts()?
                .ensure_admin(email, Name::parse("Administrator")?, password)
                .await?;
            Ok(if created {
                format!("created administrator {} ({})", user.email, user.id)
            } else {
                format!("{} ({}) holds the ADMIN role", user.email, user.id)
            })
        }
    }
}

fn local_config(dir: &std::path::Path) -> LocalConfig {
    LocalConfig::new(dir, "http://127.0.0.1:3000")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn init_keys_parses_with_and_without_a_data_dir() {
        let aws = Invocation::parse(args(&["init-keys"])).ok();
        assert_eq!(
            aws,
            Some(Invocation {
                data_dir: None,
                command: Command::InitKeys
            })
        );
        let local = Invocation::parse(args(&["--data-dir", "/tmp/x", "init-keys"])).ok();
        assert_eq!(
            local.and_then(|i| i.data_dir),
            Some(PathBuf::from("/tmp/x"))
        );
    }

    #[test]
    fn a_missing_or_unknown_command_is_refused() {
        assert!(Invocation::parse(args(&[])).is_err());
        assert!(Invocation::parse(args(&["drop-table"])).is_err());
        assert!(Invocation::parse(args(&["--data-dir"])).is_err());
    }

    #[tokio::test]
    async fn init_keys_is_idempotent() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let invocation = Invocation {
            data_dir: Some(dir.path().to_owned()),
            command: Command::InitKeys,
        };
        let first = run(invocation.clone()).await?;
        let second = run(invocation).await?;
        assert_eq!(first, second);
        Ok(())
    }

    #[tokio::test]
    async fn create_admin_makes_a_verified_administrator_once() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let invocation = Invocation::parse(args(&[
            "--data-dir",
            &dir.path().to_string_lossy(),
            "create-admin",
            "Root@Example.com",
        ]))?;
        let env = |name: &str| (name == "ADMIN_PASSWORD").then(|| "an admin passphrase".to_owned());
        let first = run_with_env(invocation.clone(), env).await?;
        assert!(
            first.starts_with("created administrator root@example.com"),
            "{first}"
        );
        let second = run_with_env(invocation.clone(), env).await?;
        assert!(second.ends_with("holds the ADMIN role"), "{second}");
        let missing = run_with_env(invocation, |_| None).await;
        assert!(missing.is_err());

        let backend = LocalBackend::open_default(local_config(dir.path())).await?;
        let users = shared::users::UserRepo::new(backend.store()?);
        let email = Email::parse("root@example.com")?;
        let id = users
            .id_by_email(&email)
            .await?
            .context("no administrator")?;
        let admin = users.with_roles(id).await?.context("no administrator")?;
        assert!(admin.user.email_verified);
        let catalog = shared::rbac::Catalog::load(backend.store()?.as_ref()).await?;
        let permissions = catalog.permission_names(&admin.assignments);
        assert!(permissions.contains("users:delete") && permissions.contains("roles:assign"));
        Ok(())
    }

    #[tokio::test]
    async fn rotate_keys_promotes_the_next_key() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let at = |command: &str| Invocation {
            data_dir: Some(dir.path().to_owned()),
            command: match command {
                "init" => Command::InitKeys,
                _ => Command::RotateKeys,
            },
        };
        run(at("init")).await?;
        let backend = LocalBackend::open_default(local_config(dir.path())).await?;
        let secrets = backend.secrets()?;
        let name = &backend.settings().signing_keys_secret;
        let before = KeySet::load(secrets.as_ref(), name).await?;
        let next = before
            .keys
            .iter()
            .find(|k| k.state == shared::auth::keys::KeyState::Next)
            .map(|k| k.kid.clone());
        let said = run(at("rotate")).await?;
        let after = KeySet::load(secrets.as_ref(), name).await?;
        assert_eq!(Some(after.current().kid.clone()), next, "{said}");
        assert!(
            after.find(&before.current().kid).is_some(),
            "the old key still verifies"
        );
        Ok(())
    }

    #[tokio::test]
    async fn revoke_key_drops_the_key_and_a_token_it_signed_stops_verifying() -> anyhow::Result<()>
    {
        let dir = tempfile::tempdir()?;
        let invocation = |command| Invocation {
            data_dir: Some(dir.path().to_owned()),
            command,
        };
        run(invocation(Command::InitKeys)).await?;
        let backend = LocalBackend::open_default(local_config(dir.path())).await?;
        let (secrets, name) = (backend.secrets()?, &backend.settings().signing_keys_secret);
        let before = KeySet::load(secrets.as_ref(), name).await?;
        let leaked = before.current().kid.clone();
        let tokens = backend.access_tokens()?;
        let now = backend.clock().now();
        let (user, session) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let token = tokens.issue(
            &before,
            &user.to_string(),
            &session.to_string(),
            0,
            now,
            uuid::Uuid::new_v4(),
        )?;
        assert!(tokens.verify(&before, &token.token, now).is_ok());

        let said = run(invocation(Command::RevokeKey {
            kid: leaked.clone(),
        }))
        .await?;
        assert!(said.contains("revoked"), "{said}");
        let after = KeySet::load(secrets.as_ref(), name).await?;
        assert!(after.find(&leaked).is_none());
        assert!(tokens.verify(&after, &token.token, now).is_err());
        // What verifiers read: the public half, rewritten with the private set.
        let public = &backend.settings().public_keys_secret;
        let published = KeySet::load(secrets.as_ref(), public).await?;
        assert!(published.find(&leaked).is_none());
        assert_eq!(published.current().kid, after.current().kid);
        assert!(published.current().private_pkcs8_der().is_err());
        let unknown = run(invocation(Command::RevokeKey { kid: leaked })).await;
        assert!(unknown.is_err(), "revoking twice: {unknown:?}");
        Ok(())
    }
}
