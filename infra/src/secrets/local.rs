//! The local secrets: one owner-only file per secret in an owner-only directory.
//!
//! A value is always written whole to a temporary file and synced before it gets its name, so a
//! reader or a crash never sees half a secret. `put` renames over the old file; `create` links
//! the new file to the name, which fails when the name exists, so of two racing creators
//! exactly one wins and the loser reads the winner's value.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use shared::secrets::{Secrets, SecretsError, check_name};

#[derive(Debug, Clone)]
pub struct LocalSecrets {
    dir: PathBuf,
}

impl LocalSecrets {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The file of a secret. Names may hold `/` (not a directory here, so `a` and `a/b` can
    /// coexist); a name too long to be a file name goes by its hash. Neither form can collide
    /// with the other, nor with a temporary file (`#` is never in a name).
    fn path_of(&self, name: &str) -> PathBuf {
        let file = name.replace('/', "%2F");
        let file = if file.len() <= 200 {
            file
        } else {
            format!("%sha256-{}", hex::encode(Sha256::digest(name)))
        };
        self.dir.join(file)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        name: &str,
        work: impl FnOnce(&Path, &Path) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, SecretsError> {
        check_name(name)?;
        let (dir, path) = (self.dir.clone(), self.path_of(name));
        let result = tokio::task::spawn_blocking(move || work(&dir, &path))
            .await
            .context("a secrets task did not finish")?;
        Ok(result?)
    }
}

/// Writes `value` to a new owner-only temporary file in `dir`, synced, and returns its path.
fn write_temp(dir: &Path, value: &str) -> anyhow::Result<PathBuf> {
    crate::private::dir(dir)?;
    let temp = dir.join(format!("#tmp-{}", uuid::Uuid::new_v4().simple()));
    let written = crate::private::create_new(&temp).and_then(|mut file| {
        file.write_all(value.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(anyhow::Error::new(e).context(format!("writing {}", temp.display())));
    }
    Ok(temp)
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

#[async_trait]
impl Secrets for LocalSecrets {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretsError> {
        self.blocking(name, |_, path| match std::fs::read_to_string(path) {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
        })
        .await
    }

    async fn put(&self, name: &str, value: &str) -> Result<(), SecretsError> {
        let value = value.to_owned();
        self.blocking(name, move |dir, path| {
            let temp = write_temp(dir, &value)?;
            if let Err(e) = std::fs::rename(&temp, path) {
                let _ = std::fs::remove_file(&temp);
                return Err(anyhow::Error::new(e).context(format!("replacing {}", path.display())));
            }
            sync_dir(dir)
        })
        .await
    }

    async fn create(&self, name: &str, value: &str) -> Result<bool, SecretsError> {
        let value = value.to_owned();
        self.blocking(name, move |dir, path| {
            let temp = write_temp(dir, &value)?;
            let linked = std::fs::hard_link(&temp, path);
            let _ = std::fs::remove_file(&temp);
            match linked {
                Ok(()) => sync_dir(dir).map(|()| true),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
                Err(e) => {
                    Err(anyhow::Error::new(e).context(format!("creating {}", path.display())))
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::fs::Permissions;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> anyhow::Result<u32> {
        Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
    }

    #[tokio::test]
    async fn secrets_are_owner_only_files_in_an_owner_only_directory() -> anyhow::Result<()> {
        let root = tempfile::tempdir()?;
        let dir = root.path().join("secrets");
        std::fs::create_dir(&dir)?;
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755))?;
        let secrets = LocalSecrets::new(dir.clone());
        secrets.put("auth/signing-keys", "v1").await?;
        assert!(secrets.create("pepper", "p").await?);
        assert_eq!(mode(&dir)?, 0o700);
        assert_eq!(mode(&secrets.path_of("auth/signing-keys"))?, 0o600);
        assert_eq!(mode(&secrets.path_of("pepper"))?, 0o600);
        let names: Vec<_> = std::fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        assert_eq!(
            names.len(),
            2,
            "no temporary file is left behind: {names:?}"
        );
        Ok(())
    }

    #[tokio::test]
    async fn of_racing_creators_exactly_one_wins() -> anyhow::Result<()> {
        let root = tempfile::tempdir()?;
        let secrets = LocalSecrets::new(root.path().join("secrets"));
        let racers: Vec<_> = (0..8)
            .map(|i| {
                let secrets = secrets.clone();
                tokio::spawn(async move {
                    secrets
                        .create("key", &format!("value {i}"))
                        .await
                        .map(|won| (i, won))
                })
            })
            .collect();
        let mut winners = Vec::new();
        for racer in racers {
            if let (i, true) = racer.await?? {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1);
        assert_eq!(
            secrets.get("key").await?,
            Some(format!("value {}", winners[0]))
        );
        Ok(())
    }

    #[tokio::test]
    async fn names_with_slashes_and_long_names_are_distinct_secrets() -> anyhow::Result<()> {
        let root = tempfile::tempdir()?;
        let secrets = LocalSecrets::new(root.path().join("secrets"));
        let long = "x".repeat(256);
        secrets.put("a", "1").await?;
        secrets.put("a/b", "2").await?;
        secrets.put(&long, "3").await?;
        assert_eq!(secrets.get("a").await?.as_deref(), Some("1"));
        assert_eq!(secrets.get("a/b").await?.as_deref(), Some("2"));
        assert_eq!(secrets.get(&long).await?.as_deref(), Some("3"));
        for bad in ["../escape", "a%2Fb", "#tmp-x"] {
            assert!(
                matches!(secrets.get(bad).await, Err(SecretsError::InvalidName(_))),
                "{bad}"
            );
        }
        Ok(())
    }
}
