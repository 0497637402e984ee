//! Concurrent creations of one address at the use-case level, where no HTTP throttle turns any
//! of them away: the store's conditional claim on the address alone decides the winner.

use std::sync::Arc;

use infra::compose::{Backend as _, LocalBackend};
use infra::config::LocalConfig;
use shared::accounts::register::NewAccount;
use shared::accounts::{AccountError, Accounts};
use shared::auth::password::Password;
use shared::clock::{OsRandom, SystemClock};
use shared::store::ItemStore;
use shared::users::{Email, Name, UserRepo};
use tests::moto::moto;
use tests::provision;

use super::PASSWORD;

const CONTENDERS: usize = 100;

async fn one_of_a_hundred_concurrent_creations_of_one_address_wins(
    store: Arc<dyn ItemStore>,
) -> anyhow::Result<()> {
    let accounts = Accounts::new(store.clone(), Arc::new(SystemClock), Arc::new(OsRandom));
    let email = Email::parse("contended@example.com")?;
    let account = NewAccount {
        email: email.clone(),
        name: Name::parse("Contender")?,
        phone: None,
        password: Password::parse(PASSWORD.to_owned())?,
        verified: false,
        extra_roles: Vec::new(),
    };
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..CONTENDERS {
        let (accounts, account) = (accounts.clone(), account.clone());
        running.spawn(async move { accounts.create(account).await });
    }
    let (mut created, mut taken, mut other) = (Vec::new(), 0, Vec::new());
    while let Some(outcome) = running.join_next().await {
        match outcome? {
            Ok(user) => created.push(user),
            Err(AccountError::EmailTaken) => taken += 1,
            Err(error) => other.push(format!("{error:#}")),
        }
    }
    assert!(other.is_empty(), "unexpected outcomes: {other:?}");
    assert_eq!(created.len(), 1, "{} accounts were created", created.len());
    assert_eq!(taken, CONTENDERS - 1);
    let owner = UserRepo::new(store).by_email(&email).await?;
    assert_eq!(owner.map(|u| u.id), Some(created[0].id));
    Ok(())
}

mod local {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_of_a_hundred_concurrent_creations_of_one_address_wins() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let config = LocalConfig::new(dir.path(), "http://127.0.0.1:0");
        let backend = LocalBackend::open_default(config).await?;
        super::one_of_a_hundred_concurrent_creations_of_one_address_wins(backend.store()?).await
    }
}

mod aws {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_of_a_hundred_concurrent_creations_of_one_address_wins() -> anyhow::Result<()> {
        let store = provision::store(moto().await?).await?;
        super::one_of_a_hundred_concurrent_creations_of_one_address_wins(Arc::new(store)).await
    }
}
