//! The Python tools the suite needs (moto server, cfn-lint, schemathesis), in a venv under `target/`.
//!
//! Created on first use from `tests/requirements.txt`, so a fresh machine with Python 3 needs no
//! manual step. A file lock makes concurrent test processes (nextest runs one per test) wait for
//! one installer instead of racing it; a stamp holding the requirements makes a changed
//! requirements file reinstall.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, bail};

const REQUIREMENTS: &str = include_str!("../requirements.txt");

/// The workspace's `target/` directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The venv's `bin/` directory, with every requirement installed.
pub fn tools() -> anyhow::Result<&'static Path> {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    if let Some(bin) = TOOLS.get() {
        return Ok(bin);
    }
    let bin = install().context("preparing the Python tools of the test suite")?;
    Ok(TOOLS.get_or_init(|| bin))
}

fn install() -> anyhow::Result<PathBuf> {
    let root = target_dir().join("pytools");
    fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let lock = File::create(root.join(".lock")).context("creating the install lock")?;
    lock.lock().context("taking the install lock")?;

    let venv = root.join("venv");
    let bin = venv.join("bin");
    let stamp = root.join("installed.txt");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(REQUIREMENTS) {
        return Ok(bin);
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&python)
        .args(["-m", "venv", "--clear"])
        .arg(&venv))?;
    let requirements = root.join("requirements.txt");
    fs::write(&requirements, REQUIREMENTS)?;
    run(Command::new(bin.join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    fs::write(&stamp, REQUIREMENTS)?;
    Ok(bin)
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("starting {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
