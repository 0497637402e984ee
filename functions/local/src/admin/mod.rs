//! The admin command line: one-off operations against either backend, run by an operator.
//!
//! ```text
//! admin [--data-dir DIR] init-keys
//! admin [--data-dir DIR] rotate-keys
//! admin [--data-dir DIR] revoke-key KID
//! admin [--data-dir DIR] seed
//! ADMIN_PASSWORD=... admin [--data-dir DIR] create-admin EMAIL
//! admin [--data-dir DIR] jobs list [--status S] [--type T] [--limit N]
//! admin [--data-dir DIR] jobs show|retry|cancel ID
//! admin [--data-dir DIR] outbox status
//! admin [--data-dir DIR] dlq show jobs|events [--limit N]
//! admin [--data-dir DIR] dlq redrive jobs|events
//! ```
//!
//! Without `--data-dir` it works on AWS, configured from the environment like a function
//! (`TABLE_NAME`, `SIGNING_KEYS_SECRET`, `PUBLIC_KEYS_SECRET`, `JOBS_QUEUE_URL`, `JOBS_DLQ_URL`,
//! `EVENTS_QUEUE_URL`, `EVENTS_DLQ_URL`, the usual AWS variables); with it, on the local
//! system's data. The password comes from the environment, never from the command line, where
//! other users of the machine could read it.
//!
//! The key and account commands live here; [`jobs`], [`outbox`] and [`dead_letters`] hold the
//! operations commands, each the use case the API or a schedule runs. A command returns what to
//! tell the operator; long ones also report progress, a line at a time, to the caller's sink
//! (standard error, in the binary).

pub mod dead_letters;
pub mod jobs;
mod outbox;
mod table;

use std::path::PathBuf;

use anyhow::{Context, bail};
use infra::compose::{AwsBackend, Backend, LocalBackend, Services};
use infra::config::LocalConfig;
use shared::auth::keys::KeySet;
use shared::auth::password::Password;
use shared::clock::OsRandom;
use shared::rbac::seed::seed;
use shared::users::{Email, Name};

use self::dead_letters::DeadLetterCommand;
use self::jobs::JobsCommand;

pub const USAGE: &str = "usage: admin [--data-dir DIR] <command>
commands:
  init-keys           create the token signing key set (current + next key) unless one exists; prints its kid
  rotate-keys         retire the current signing key, promote the next one and add a new next key
  revoke-key KID      drop a leaked signing key at once, whatever its state (a dropped current key is
                      replaced by the next one); its tokens stop verifying within a minute
  seed                create the seeded permissions and roles (ADMIN, MODERATOR, USER) that are missing
  create-admin EMAIL  seed, then create a verified user with the ADMIN role (password from ADMIN_PASSWORD),
                      or give the ADMIN role to the existing user with that address
  jobs list [--status S] [--type T] [--limit N]
                      a table of jobs (id, type, status, attempts, updated), most recently changed
                      first (newest first with --type); S is queued, running, succeeded, failed,
                      dead or cancelled; N jobs at most (default 50)
  jobs show ID        one job as JSON, without its payload (which may hold a mailed token)
  jobs retry ID       queue a failed or dead job again, with all its attempts
  jobs cancel ID      cancel a queued job
  outbox status       how many events wait to be published, and how old the oldest is
  dlq show QUEUE [--limit N]
                      the messages in the dead-letter queue of QUEUE (jobs or events): message id,
                      send time, receives, and what each is about (never the whole body); N at
                      most (default 100). Looking counts as a receive
  dlq redrive QUEUE   move every message of QUEUE's dead-letter queue back to QUEUE: send it, then
                      delete it, so a failure between the two leaves it in both (at least once;
                      consumers deduplicate). A job recorded dead is not run again by its message:
                      use jobs retry ID for that
options:
  --data-dir DIR   act on the local system's data under DIR instead of on AWS
on AWS the queues are read from JOBS_QUEUE_URL, JOBS_DLQ_URL, EVENTS_QUEUE_URL and EVENTS_DLQ_URL
(the stack's outputs JobsQueueUrl, JobsDeadLetterQueueUrl, EventsQueueUrl, EventsDeadLetterQueueUrl)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    InitKeys,
    RotateKeys,
    RevokeKey { kid: String },
    Seed,
    CreateAdmin { email: String },
    Jobs(JobsCommand),
    OutboxStatus,
    DeadLetters(DeadLetterCommand),
}

impl Command {
    fn parse(words: Vec<String>) -> anyhow::Result<Self> {
        let mut words = words.into_iter();
        let command = match words.next().context("no command given")?.as_str() {
            "init-keys" => Self::InitKeys,
            "rotate-keys" => Self::RotateKeys,
            "revoke-key" => Self::RevokeKey {
                kid: words
                    .next()
                    .context("revoke-key needs the key's id (kid)")?,
            },
            "seed" => Self::Seed,
            "create-admin" => Self::CreateAdmin {
                email: words
                    .next()
                    .context("create-admin needs an email address")?,
            },
            "jobs" => Self::Jobs(JobsCommand::parse(&mut words)?),
            "outbox" => match words.next().as_deref() {
                Some("status") => Self::OutboxStatus,
                _ => bail!("outbox takes one command: status"),
            },
            "dlq" => Self::DeadLetters(DeadLetterCommand::parse(&mut words)?),
            other => bail!("unexpected argument {other:?}"),
        };
        match words.next() {
            Some(extra) => bail!("unexpected argument {extra:?}"),
            None => Ok(command),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub data_dir: Option<PathBuf>,
    pub command: Command,
}

impl Invocation {
    /// `--data-dir DIR` may come anywhere; the rest is the command.
    pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Self> {
        let mut args = args.into_iter();
        let (mut data_dir, mut words) = (None, Vec::new());
        while let Some(arg) = args.next() {
            if arg == "--data-dir" {
                data_dir = Some(PathBuf::from(
                    args.next().context("--data-dir needs a value")?,
                ));
            } else {
                words.push(arg);
            }
        }
        let command = Command::parse(words)?;
        Ok(Self { data_dir, command })
    }
}

/// Runs the command and returns what to tell the operator; `progress` gets a line now and then
/// while a long command runs.
pub async fn run(invocation: Invocation, progress: &mut dyn FnMut(&str)) -> anyhow::Result<String> {
    run_with_env(invocation, |name| std::env::var(name).ok(), progress).await
}

/// [`run`], reading the environment through `env`.
pub async fn run_with_env(
    invocation: Invocation,
    env: impl Fn(&str) -> Option<String>,
    progress: &mut dyn FnMut(&str),
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
        Command::Jobs(command) => command.run(backend.as_ref(), progress).await,
        Command::OutboxStatus => outbox::status(backend.as_ref()).await,
        Command::DeadLetters(command) => command.run(backend.as_ref(), progress).await,
    }
}

/// The value of a count option (`--limit`).
fn positive(option: &str, word: &str) -> anyhow::Result<usize> {
    match word.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{option} must be a positive number, not {word:?}"),
    }
}

fn local_config(dir: &std::path::Path) -> LocalConfig {
    LocalConfig::new(dir, "http://127.0.0.1:3000")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A progress sink for commands whose progress the test does not read.
    pub(super) fn quietly() -> impl FnMut(&str) {
        |_| {}
    }

    /// Runs `admin --data-dir DIR WORDS...`: what it said, and its progress lines.
    pub(super) async fn admin(
        dir: &std::path::Path,
        words: &[&str],
    ) -> anyhow::Result<(String, Vec<String>)> {
        let mut all = args(&["--data-dir", &dir.to_string_lossy()]);
        all.extend(args(words));
        let mut lines = Vec::new();
        let said = run_with_env(Invocation::parse(all)?, |_| None, &mut |line: &str| {
            lines.push(line.to_owned())
        })
        .await?;
        Ok((said, lines))
    }

    /// The local backend the admin opens on `dir`.
    pub(super) async fn local(dir: &std::path::Path) -> anyhow::Result<LocalBackend> {
        LocalBackend::open_default(local_config(dir)).await
    }

    #[test]
    fn the_operations_commands_parse_with_their_options_wherever_the_data_dir_is() {
        let parsed = |list: &[&str]| Invocation::parse(args(list)).map(|i| i.command).ok();
        assert_eq!(
            parsed(&[
                "jobs",
                "list",
                "--status",
                "failed",
                "--type",
                "export_users",
                "--limit",
                "5"
            ]),
            Some(Command::Jobs(JobsCommand::List(jobs::ListFilter {
                status: Some(shared::jobs::JobStatus::Failed),
                job_type: Some("export_users".into()),
                limit: 5,
            })))
        );
        assert_eq!(
            parsed(&["jobs", "list"]),
            Some(Command::Jobs(
                JobsCommand::List(jobs::ListFilter::default())
            ))
        );
        let id = uuid::Uuid::nil();
        assert_eq!(
            parsed(&["jobs", "retry", &id.to_string(), "--data-dir", "/tmp/x"]),
            Some(Command::Jobs(JobsCommand::Retry(id)))
        );
        assert_eq!(parsed(&["outbox", "status"]), Some(Command::OutboxStatus));
        assert_eq!(
            parsed(&["dlq", "show", "events", "--limit", "3"]),
            Some(Command::DeadLetters(DeadLetterCommand::Show {
                queue: dead_letters::SourceQueue::Events,
                limit: 3
            }))
        );
        assert_eq!(
            parsed(&["dlq", "redrive", "jobs"]),
            Some(Command::DeadLetters(DeadLetterCommand::Redrive {
                queue: dead_letters::SourceQueue::Jobs
            }))
        );
    }

    #[test]
    fn malformed_operations_commands_are_refused_with_a_reason() {
        let refused = |list: &[&str]| match Invocation::parse(args(list)) {
            Ok(parsed) => panic!("{list:?} parsed as {parsed:?}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(refused(&["jobs"]).contains("list, show ID"));
        assert!(refused(&["jobs", "list", "--status", "stuck"]).contains("must be one of"));
        assert!(refused(&["jobs", "list", "--limit", "0"]).contains("positive"));
        assert!(refused(&["jobs", "list", "--limit"]).contains("needs a value"));
        assert!(refused(&["jobs", "show", "42"]).contains("not a job id"));
        assert!(refused(&["jobs", "cancel"]).contains("needs a job id"));
        assert!(refused(&["outbox"]).contains("status"));
        assert!(refused(&["dlq", "show", "uploads"]).contains("jobs or events"));
        assert!(refused(&["dlq", "redrive"]).contains("jobs or events"));
        assert!(refused(&["dlq", "redrive", "jobs", "now"]).contains("unexpected argument"));
        assert!(refused(&["seed", "twice"]).contains("unexpected argument"));
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
        let first = run(invocation.clone(), &mut quietly()).await?;
        let second = run(invocation, &mut quietly()).await?;
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
        let first = run_with_env(invocation.clone(), env, &mut quietly()).await?;
        assert!(
            first.starts_with("created administrator root@example.com"),
            "{first}"
        );
        let second = run_with_env(invocation.clone(), env, &mut quietly()).await?;
        assert!(second.ends_with("holds the ADMIN role"), "{second}");
        let missing = run_with_env(invocation, |_| None, &mut quietly()).await;
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
        run(at("init"), &mut quietly()).await?;
        let backend = LocalBackend::open_default(local_config(dir.path())).await?;
        let secrets = backend.secrets()?;
        let name = &backend.settings().signing_keys_secret;
        let before = KeySet::load(secrets.as_ref(), name).await?;
        let next = before
            .keys
            .iter()
            .find(|k| k.state == shared::auth::keys::KeyState::Next)
            .map(|k| k.kid.clone());
        let said = run(at("rotate"), &mut quietly()).await?;
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
        run(invocation(Command::InitKeys), &mut quietly()).await?;
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

        let said = run(
            invocation(Command::RevokeKey {
                kid: leaked.clone(),
            }),
            &mut quietly(),
        )
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
        let unknown = run(
            invocation(Command::RevokeKey { kid: leaked }),
            &mut quietly(),
        )
        .await;
        assert!(unknown.is_err(), "revoking twice: {unknown:?}");
        Ok(())
    }
}
