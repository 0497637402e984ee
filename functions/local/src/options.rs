//! The local binary's options: flags first, then environment variables, then defaults.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use shared::auth::password::Password;
use shared::users::Email;

pub const DEFAULT_PORT: u16 = 3000;
pub const DEFAULT_DATA_DIR: &str = ".local";

const USAGE: &str = "usage: local [--port N] [--data-dir DIR]
  --port N          listen on 127.0.0.1:N (env PORT; default 3000; 0 picks a free port)
  --data-dir DIR    keep data under DIR (env DATA_DIR; default ./.local)
  APP_URL           the public base URL put in mail links (default http://127.0.0.1:<port>)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub port: u16,
    pub data_dir: PathBuf,
    /// The base URL links in mails point at; the server's own address when `None`.
    pub app_url: Option<String>,
    /// `BOOTSTRAP_ADMIN_EMAIL` and `BOOTSTRAP_ADMIN_PASSWORD`: an administrator to create at
    /// start unless it exists.
    pub bootstrap_admin: Option<BootstrapAdmin>,
}

/// The administrator the local system creates at start.
#[derive(Debug, Clone)]
pub struct BootstrapAdmin {
    pub email: Email,
    pub password: Password,
}

impl PartialEq for BootstrapAdmin {
    fn eq(&self, other: &Self) -> bool {
        self.email == other.email && self.password.expose() == other.password.expose()
    }
}

impl Eq for BootstrapAdmin {}

impl Options {
    /// Options for a fresh data directory on a free port; for tests.
    pub fn ephemeral(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            port: 0,
            data_dir: data_dir.into(),
            app_url: None,
            bootstrap_admin: None,
        }
    }

    /// Reads this process's arguments and environment. `--help` prints the usage and exits; a
    /// bad argument prints what is wrong and the usage, and exits with status 2.
    pub fn from_process() -> Self {
        match Self::parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
            Ok(Some(options)) => options,
            Ok(None) => {
                let _ = writeln!(std::io::stdout(), "{USAGE}");
                std::process::exit(0)
            }
            Err(error) => {
                let _ = writeln!(std::io::stderr(), "{error:#}\n{USAGE}");
                std::process::exit(2)
            }
        }
    }

    /// The options, or `None` when the usage was asked for.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<Self>> {
        let (mut port, mut data_dir) = (env("PORT"), env("DATA_DIR"));
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let slot = match flag.as_str() {
                "--port" => &mut port,
                "--data-dir" => &mut data_dir,
                "-h" | "--help" => return Ok(None),
                other => bail!("unknown argument {other:?}"),
            };
            *slot = Some(
                inline
                    .or_else(|| args.next())
                    .with_context(|| format!("{flag} needs a value"))?,
            );
        }
        let port = match port {
            Some(port) => port
                .parse()
                .with_context(|| format!("{port:?} is not a port number"))?,
            None => DEFAULT_PORT,
        };
        let data_dir = data_dir.map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from);
        let bootstrap_admin = match (
            env("BOOTSTRAP_ADMIN_EMAIL").filter(|v| !v.is_empty()),
            env("BOOTSTRAP_ADMIN_PASSWORD").filter(|v| !v.is_empty()),
        ) {
            (Some(email), Some(password)) => Some(BootstrapAdmin {
                email: Email::parse(&email)
                    .context("BOOTSTRAP_ADMIN_EMAIL is not an email address")?,
                password: Password::parse(password).context("BOOTSTRAP_ADMIN_PASSWORD")?,
            }),
            (None, None) => None,
            _ => bail!("set both BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD, or neither"),
        };
        Ok(Some(Self {
            port,
            data_dir,
            app_url: env("APP_URL").filter(|url| !url.is_empty()),
            bootstrap_admin,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Option<Options>> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Options::parse(args.iter().map(|a| (*a).to_owned()), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn the_defaults_are_port_3000_and_dot_local() {
        let options = parse(&[], &[]).ok().flatten();
        assert_eq!(
            options,
            Some(Options {
                port: 3000,
                data_dir: ".local".into(),
                app_url: None,
                bootstrap_admin: None,
            })
        );
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env = [
            ("PORT", "4000"),
            ("DATA_DIR", "/tmp/env"),
            ("APP_URL", "https://app.test"),
        ];
        let options = parse(&["--port", "5000", "--data-dir=/tmp/flag"], &env)
            .ok()
            .flatten();
        let expected = Options {
            port: 5000,
            data_dir: "/tmp/flag".into(),
            app_url: Some("https://app.test".into()),
            bootstrap_admin: None,
        };
        assert_eq!(options, Some(expected));
        assert_eq!(parse(&[], &env).ok().flatten().map(|o| o.port), Some(4000));
    }

    #[test]
    fn bad_arguments_are_refused_saying_why() {
        let cases = [
            (&["--port"][..], "needs a value"),
            (&["--port", "http"], "not a port number"),
            (&["--verbose"], "unknown argument"),
        ];
        for (args, why) in cases {
            let error = parse(args, &[]).err().map(|e| format!("{e:#}"));
            assert!(
                error.as_deref().is_some_and(|e| e.contains(why)),
                "{args:?}: {error:?}"
            );
        }
    }

    #[test]
    fn help_asks_for_the_usage() {
        assert!(matches!(parse(&["--port", "1", "--help"], &[]), Ok(None)));
    }
}
