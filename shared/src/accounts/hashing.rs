//! argon2id off the executor: tens of milliseconds of CPU must not stall the tasks of other
//! requests (`crate::blocking`).

use anyhow::Context;

use crate::auth::password::{self, Password, Verified};
use crate::clock::Random;
use crate::users::PasswordHash;

pub async fn hash(password: &Password, random: &dyn Random) -> anyhow::Result<PasswordHash> {
    let mut salt = [0u8; 16];
    random.fill(&mut salt);
    let password = password.clone();
    let phc = crate::blocking::blocking(move || password::hash_password(&password, salt))
        .await
        .context("the hashing task failed")?
        .context("hashing a password")?;
    Ok(PasswordHash(phc))
}

pub async fn verify(candidate: &str, stored: &PasswordHash) -> anyhow::Result<Verified> {
    let candidate = candidate.to_owned();
    let stored = stored.0.clone();
    crate::blocking::blocking(move || password::verify_password(&candidate, &stored))
        .await
        .context("the hashing task failed")?
        .context("verifying a password")
}

/// Spends the time of one verification, for an account that does not exist.
pub async fn verify_nobody(candidate: &str) -> anyhow::Result<()> {
    let candidate = candidate.to_owned();
    crate::blocking::blocking(move || password::verify_dummy(&candidate))
        .await
        .context("the hashing task failed")
}
