//! Races forced into one order at the use-case level: a store that runs another flow to its end
//! just before a transaction of the flow under test, which then commits (or not) after it. The
//! same store records the calls it passes on, to compare the work two requests do.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use infra::compose::{Backend as _, LocalBackend};
use infra::config::LocalConfig;
use shared::accounts::login::MAX_SESSIONS;
use shared::accounts::{AccountError, Accounts, ClientInfo, TokenIssuer};
use shared::auth::password::Password;
use shared::auth::session::{SESSION_PREFIX, SessionRepo};
use shared::clock::{OsRandom, SystemClock};
use shared::store::observed::{Call, Observed, Observer};
use shared::store::{ItemStore, StoreError, Write};
use shared::users::UserRepo;

use super::{AuthSystem, PASSWORD, on_both_systems};

type Flow = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// Runs `flow` once, before the first transaction that `at` picks; records each call's method
/// (and a transaction's number of writes).
struct Interleaved {
    at: fn(&[Write]) -> bool,
    flow: Mutex<Option<Flow>>,
    calls: Mutex<Vec<String>>,
}

impl Interleaved {
    /// `inner` with `flow` run before the first transaction `at` picks, and the observer that
    /// tells whether it ran and what was called.
    fn new(
        inner: Arc<dyn ItemStore>,
        at: fn(&[Write]) -> bool,
        flow: Flow,
    ) -> (Arc<dyn ItemStore>, Arc<Self>) {
        let observer = Arc::new(Self {
            at,
            flow: Mutex::new(Some(flow)),
            calls: Mutex::default(),
        });
        let store = Arc::new(Observed::new(inner, observer.clone()));
        (store, observer)
    }

    /// `inner`, recording every call.
    fn recording(inner: Arc<dyn ItemStore>) -> (Arc<dyn ItemStore>, Arc<Self>) {
        Self::new(inner, |_| false, Box::pin(async { Ok(()) }))
    }

    /// The calls so far, emptied.
    fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether the flow has run.
    fn ran(&self) -> bool {
        self.flow
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }
}

#[async_trait]
impl Observer for Interleaved {
    async fn before(&self, call: Call<'_>) -> Result<(), StoreError> {
        let name = match call {
            Call::Transact { writes, fail_safe } => match fail_safe {
                true => format!("transact of {}, fail-safe", writes.len()),
                false => format!("transact of {}", writes.len()),
            },
            other => other.method().to_owned(),
        };
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(name);
        let Call::Transact { writes, .. } = call else {
            return Ok(());
        };
        let flow = if (self.at)(writes) {
            self.flow
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        } else {
            None
        };
        match flow {
            Some(flow) => flow.await.map_err(StoreError::Unexpected),
            None => Ok(()),
        }
    }
}

/// A transaction that creates a session (a login's) or rewrites one (a refresh's rotation).
fn writes_a_session(writes: &[Write]) -> bool {
    writes.iter().any(|write| match write {
        Write::Put { item, .. } => item.key.sk.starts_with(SESSION_PREFIX),
        _ => false,
    })
}

fn accounts_over(store: Arc<dyn ItemStore>) -> Accounts {
    Accounts::new(store, Arc::new(SystemClock), Arc::new(OsRandom))
}

/// What signs the tokens: keys of a throwaway local backend (tokens are not checked here).
async fn issuer() -> anyhow::Result<(TokenIssuer, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let backend =
        LocalBackend::open_default(LocalConfig::new(dir.path(), "http://127.0.0.1:0")).await?;
    tests::local::prepare_identity(&backend).await?;
    Ok((backend.token_issuer()?, dir))
}

async fn a_login_racing_a_password_change_does_not_outlive_it(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (issuer, _keys) = issuer().await?;
    let store = app.store().await?;
    let email = "racer@example.com";
    let user_id = app.create_user(email, Vec::new()).await?;
    let accounts = accounts_over(store.clone());
    let client = ClientInfo::default();
    let owner = accounts.login(&issuer, email, PASSWORD, &client).await?;

    // The owner changes the password just as another login, which read the user (and checked
    // the old password) before the change, stores its session.
    let user = UserRepo::new(store.clone())
        .get(user_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user"))?;
    let change: Flow = Box::pin({
        let (accounts, client) = (accounts.clone(), client.clone());
        let new_password = Password::parse("a brand new passphrase".to_owned())?;
        async move {
            let changed = accounts
                .change_password(&user, owner.session_id, PASSWORD, &new_password, &client)
                .await;
            Ok(changed?)
        }
    });
    let (racing, observer) = Interleaved::new(store.clone(), writes_a_session, change);
    let outcome = accounts_over(racing)
        .login(&issuer, email, PASSWORD, &client)
        .await;
    assert!(observer.ran(), "the password change never ran");
    assert!(
        matches!(outcome, Err(AccountError::InvalidCredentials)),
        "the old password logged in after the change: {outcome:?}"
    );
    let live: Vec<_> = SessionRepo::new(store.as_ref())
        .list(user_id)
        .await?
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, [owner.session_id], "only the owner's session is left");
    Ok(())
}

async fn a_refresh_that_loses_the_rotation_race_ends_the_session(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (issuer, _keys) = issuer().await?;
    let store = app.store().await?;
    let email = "twice@example.com";
    let user_id = app.create_user(email, Vec::new()).await?;
    let accounts = accounts_over(store.clone());
    let login = accounts
        .login(&issuer, email, PASSWORD, &ClientInfo::default())
        .await?;
    let presented = login.refresh.expose().to_owned();

    // The same token is refreshed twice: the second read it before the first rotated it.
    let winner = Arc::new(Mutex::new(None));
    let first: Flow = Box::pin({
        let (accounts, issuer, presented, winner) = (
            accounts.clone(),
            issuer.clone(),
            presented.clone(),
            winner.clone(),
        );
        async move {
            let refreshed = accounts.refresh(&issuer, &presented).await?;
            *winner.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(refreshed.refresh.expose().to_owned());
            Ok(())
        }
    });
    let (racing, observer) = Interleaved::new(store.clone(), writes_a_session, first);
    let outcome = accounts_over(racing).refresh(&issuer, &presented).await;
    assert!(observer.ran(), "the first refresh never ran");
    assert!(
        matches!(outcome, Err(AccountError::RefreshTokenReused)),
        "{outcome:?}"
    );
    let successor = winner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .ok_or_else(|| anyhow::anyhow!("the first refresh did not succeed"))?;
    assert!(
        SessionRepo::new(store.as_ref())
            .list(user_id)
            .await?
            .is_empty(),
        "the session outlived a token presented twice"
    );
    let after = accounts.refresh(&issuer, &successor).await;
    assert!(
        matches!(
            after,
            Err(AccountError::InvalidRefreshToken | AccountError::RefreshTokenReused)
        ),
        "the winner's successor still refreshes: {after:?}"
    );
    Ok(())
}

/// What would tell an attacker which addresses have accounts, beside the answer: a request
/// for a known address doing other store calls than one for an unknown address. (Their times,
/// which follow from the calls, are printed by the `auth` bench.)
async fn known_and_unknown_addresses_cost_the_same_store_calls(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (issuer, _keys) = issuer().await?;
    let known = "known@example.com";
    app.create_user(known, Vec::new()).await?;
    let (recorded, store) = Interleaved::recording(app.store().await?);
    let accounts = accounts_over(recorded);
    let client = ClientInfo::default();
    let mut work = Vec::new();
    for address in [known, "unknown@example.com"] {
        let email = shared::users::Email::parse(address)?;
        accounts.request_reset(&email, &client).await?;
        let reset = store.take_calls();
        accounts.resend_verification(&email, &client).await?;
        let resend = store.take_calls();
        let login = accounts
            .login(&issuer, address, "not the password", &client)
            .await;
        assert!(matches!(login, Err(AccountError::InvalidCredentials)));
        work.push([reset, resend, store.take_calls()]);
    }
    for (i, what) in ["reset-password", "resend-verification", "a wrong login"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            work[0][i], work[1][i],
            "{what}: known, then unknown address"
        );
    }
    Ok(())
}

/// A login's session may be lost to a power cut (its tokens are then refused), so it commits
/// fail-safe; but a login that ends the least recently used session commits as any write, for
/// an ended session must not come back.
async fn a_login_commits_fail_safe_unless_it_ends_a_session(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (issuer, _keys) = issuer().await?;
    let email = "many@example.com";
    app.create_user(email, Vec::new()).await?;
    let (recorded, store) = Interleaved::recording(app.store().await?);
    let accounts = accounts_over(recorded);
    let commits = || {
        let calls = store.take_calls();
        calls
            .into_iter()
            .filter(|call| call.starts_with("transact"))
            .collect::<Vec<_>>()
    };
    for login in 1..=MAX_SESSIONS {
        accounts
            .login(&issuer, email, PASSWORD, &ClientInfo::default())
            .await?;
        let commits = commits();
        assert!(
            commits.len() == 1 && commits[0].ends_with("fail-safe"),
            "login {login}: {commits:?}"
        );
    }
    accounts
        .login(&issuer, email, PASSWORD, &ClientInfo::default())
        .await?;
    let commits = commits();
    assert!(
        commits.len() == 1 && !commits[0].ends_with("fail-safe"),
        "the login that ends a session: {commits:?}"
    );
    Ok(())
}

on_both_systems!(
    a_login_commits_fail_safe_unless_it_ends_a_session,
    a_login_racing_a_password_change_does_not_outlive_it,
    a_refresh_that_loses_the_rotation_race_ends_the_session,
    known_and_unknown_addresses_cost_the_same_store_calls,
);
