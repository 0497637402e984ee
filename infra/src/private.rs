//! The local system's data directory is its owner's alone: it holds live credentials (the
//! signing keys, sessions and throttle state in the database, mail with sign-in links,
//! uploads). Directories are created 0700 and files 0600, and existing ones are taken back.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Creates `dir` (and its missing parents) owner-only, or restricts it if it exists.
pub(crate) fn dir(dir: &Path) -> anyhow::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))
}

/// Creates a file that must not exist yet, owner-only, to write.
pub(crate) fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Creates or truncates a file, owner-only, to write.
pub(crate) fn create(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Restricts a file to its owner, if it exists.
pub(crate) fn restrict(path: &Path) -> anyhow::Result<()> {
    match std::fs::set_permissions(path, Permissions::from_mode(0o600)) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(anyhow::Error::new(e).context(format!("restricting {}", path.display())))
        }
        _ => Ok(()),
    }
}

/// Creates an empty owner-only file unless one exists; an existing one is left as it is.
pub(crate) fn create_or_keep(path: &Path) -> anyhow::Result<()> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
        .with_context(|| format!("creating {}", path.display()))
}
