//! Faults in the item store at every call of a use case, on the local store: for each call N
//! of the use case and each way the store can fail it (a condition that does not hold, an
//! error before the write, an answer lost after the write happened), the use case runs once
//! over a fresh store that fails its Nth call that way, and the state it leaves must hold its
//! invariants: a change commits with its event or not at all. Prints what it tried.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::TimeDelta;
use infra::compose::{Backend, LocalBackend, WithStore};
use shared::accounts::ClientInfo;
use shared::auth::session::{SessionRepo, refresh_key};
use shared::clock::{OsRandom, Random};
use shared::jobs::{JobRepo, NewJob};
use shared::messaging::event::EventType;
use shared::messaging::outbox::pending_older_than;
use shared::store::observed::{Call, Observed, Observer};
use shared::store::{ItemStore, StoreError};
use shared::users::{Email, UserRepo};
use uuid::Uuid;

use crate::auth::PASSWORD;

/// How the store fails a call.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// A condition of the write did not hold (a concurrent change).
    ConditionFailed,
    /// The call failed and wrote nothing (throttled, a timeout before the write).
    FailedBefore,
    /// The call was done, but its answer never came back (a timeout after the write).
    LostAfter,
}

const FAULTS: [Fault; 3] = [
    Fault::ConditionFailed,
    Fault::FailedBefore,
    Fault::LostAfter,
];

/// Fails the `at`th call (from 1) as `fault`; with `at` 0, counts the calls.
struct Faulty {
    at: usize,
    fault: Fault,
    calls: AtomicUsize,
    answered: AtomicUsize,
}

impl Faulty {
    fn new(at: usize, fault: Fault) -> Arc<Self> {
        Arc::new(Self {
            at,
            fault,
            calls: AtomicUsize::new(0),
            answered: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Observer for Faulty {
    async fn before(&self, _: Call<'_>) -> Result<(), StoreError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        match (n == self.at, self.fault) {
            (true, Fault::ConditionFailed) => Err(StoreError::ConditionFailed { index: 0 }),
            (true, Fault::FailedBefore) => Err(StoreError::Unexpected(anyhow::anyhow!(
                "the store failed the call (injected)"
            ))),
            _ => Ok(()),
        }
    }

    async fn after(&self, _: &'static str) -> Result<(), StoreError> {
        let n = self.answered.fetch_add(1, Ordering::SeqCst) + 1;
        match (n == self.at, self.fault) {
            (true, Fault::LostAfter) => Err(StoreError::Unexpected(anyhow::anyhow!(
                "the answer was lost after the write (injected)"
            ))),
            _ => Ok(()),
        }
    }
}

/// Every id the use case was handed, to find what it wrote whatever it answered.
#[derive(Debug, Default)]
struct Ids(Mutex<Vec<Uuid>>);

impl Random for Ids {
    fn id(&self) -> Uuid {
        let id = OsRandom.id();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id);
        id
    }

    fn bytes<const N: usize>(&self) -> [u8; N] {
        OsRandom.bytes()
    }

    fn fill(&self, buf: &mut [u8]) {
        OsRandom.fill(buf);
    }
}

impl Ids {
    fn handed(&self) -> Vec<Uuid> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A use case under faults: runs over the given store and ids; then what must hold of the
/// state it left (a violation's description).
#[async_trait]
trait Case: Sync {
    fn name(&self) -> &'static str;
    /// What the case needs in the store before it runs (written without faults).
    async fn prepare(&self, backend: &LocalBackend) -> anyhow::Result<()> {
        let _ = backend;
        Ok(())
    }
    async fn run(&self, store: Arc<dyn ItemStore>, backend: &dyn Backend, ids: Arc<Ids>);
    async fn violations(&self, store: Arc<dyn ItemStore>, ids: &Ids)
    -> anyhow::Result<Vec<String>>;
}

/// The events still to relay of a type, by the id of what they are about.
async fn pending_about(
    store: &dyn ItemStore,
    event_type: EventType,
) -> anyhow::Result<Vec<String>> {
    let events = pending_older_than(
        store,
        TimeDelta::zero(),
        chrono::Utc::now() + TimeDelta::days(1),
        1000,
    )
    .await?;
    Ok(events
        .into_iter()
        .filter(|e| e.event_type == event_type)
        .map(|e| e.aggregate_id)
        .collect())
}

struct Register;

const EMAIL: &str = "ada@example.com";

#[async_trait]
impl Case for Register {
    fn name(&self) -> &'static str {
        "register"
    }

    async fn run(&self, store: Arc<dyn ItemStore>, backend: &dyn Backend, ids: Arc<Ids>) {
        let accounts = shared::accounts::Accounts::new(store, backend.clock(), ids);
        let account = tests::local::new_account(EMAIL, PASSWORD, false).expect("an account");
        let _ = accounts.register(account, &ClientInfo::default()).await;
    }

    async fn violations(&self, store: Arc<dyn ItemStore>, _: &Ids) -> anyhow::Result<Vec<String>> {
        let registered = pending_about(store.as_ref(), EventType::UserRegistered).await?;
        let users = UserRepo::new(store);
        let claimed = users.id_by_email(&Email::parse(EMAIL)?).await?;
        let mut wrong = Vec::new();
        match claimed {
            Some(id) => {
                if users.get(id).await?.is_none() {
                    wrong.push(format!(
                        "the address is claimed by {id}, which does not exist"
                    ));
                }
                if !registered.contains(&id.to_string()) {
                    wrong.push(format!(
                        "user {id} exists without its user.registered event"
                    ));
                }
            }
            None if !registered.is_empty() => {
                wrong.push(format!(
                    "user.registered of {registered:?} without the user"
                ));
            }
            None => {}
        }
        Ok(wrong)
    }
}

struct CreateJob;

#[async_trait]
impl Case for CreateJob {
    fn name(&self) -> &'static str {
        "create a job"
    }

    async fn run(&self, store: Arc<dyn ItemStore>, backend: &dyn Backend, ids: Arc<Ids>) {
        let new =
            NewJob::of(&functions::maintenance::purge_expired::PurgeRequest {}).expect("a job");
        let _ = shared::jobs::enqueue(store.as_ref(), backend.clock().as_ref(), ids.as_ref(), new)
            .await;
    }

    async fn violations(
        &self,
        store: Arc<dyn ItemStore>,
        ids: &Ids,
    ) -> anyhow::Result<Vec<String>> {
        let enqueued = pending_about(store.as_ref(), EventType::JobEnqueued).await?;
        let jobs = JobRepo::new(store);
        let mut wrong = Vec::new();
        for id in ids.handed() {
            let exists = jobs.get(id).await?.is_some();
            let announced = enqueued.contains(&id.to_string());
            if exists != announced {
                wrong.push(format!(
                    "job {id}: stored {exists}, its job.enqueued event {announced}"
                ));
            }
        }
        Ok(wrong)
    }
}

struct DeleteAccount;

#[async_trait]
impl Case for DeleteAccount {
    fn name(&self) -> &'static str {
        "delete an account"
    }

    async fn prepare(&self, backend: &LocalBackend) -> anyhow::Result<()> {
        verified_account(backend).await.map(drop)
    }

    async fn run(&self, store: Arc<dyn ItemStore>, backend: &dyn Backend, ids: Arc<Ids>) {
        let users = UserRepo::new(store.clone());
        let Ok(Some(id)) = users
            .id_by_email(&Email::parse(EMAIL).expect("an address"))
            .await
        else {
            return;
        };
        let accounts = shared::accounts::Accounts::new(store, backend.clock(), ids);
        let _ = accounts.delete_account(id).await;
    }

    async fn violations(&self, store: Arc<dyn ItemStore>, _: &Ids) -> anyhow::Result<Vec<String>> {
        let deleted = pending_about(store.as_ref(), EventType::UserDeleted).await?;
        let users = UserRepo::new(store);
        let claimed = users.id_by_email(&Email::parse(EMAIL)?).await?;
        let mut wrong = Vec::new();
        match claimed {
            Some(id) => {
                if users.get(id).await?.is_none() {
                    wrong.push(format!(
                        "the address is still claimed by {id}, which is gone"
                    ));
                }
                if deleted.contains(&id.to_string()) {
                    wrong.push(format!("user {id} is announced deleted but is still there"));
                }
            }
            None if deleted.is_empty() => {
                wrong.push("the account is gone without its user.deleted event".to_owned());
            }
            None => {}
        }
        Ok(wrong)
    }
}

struct Login;

#[async_trait]
impl Case for Login {
    fn name(&self) -> &'static str {
        "log in"
    }

    async fn prepare(&self, backend: &LocalBackend) -> anyhow::Result<()> {
        verified_account(backend).await.map(drop)
    }

    async fn run(&self, store: Arc<dyn ItemStore>, backend: &dyn Backend, ids: Arc<Ids>) {
        let issuer = backend.token_issuer().expect("the token issuer");
        let accounts = shared::accounts::Accounts::new(store, backend.clock(), ids);
        let _ = accounts
            .login(&issuer, EMAIL, PASSWORD, &ClientInfo::default())
            .await;
    }

    /// No session without the refresh token that continues it, nor the reverse.
    async fn violations(&self, store: Arc<dyn ItemStore>, _: &Ids) -> anyhow::Result<Vec<String>> {
        let users = UserRepo::new(store.clone());
        let id = users
            .id_by_email(&Email::parse(EMAIL)?)
            .await?
            .context("the user is gone")?;
        let mut wrong = Vec::new();
        for session in SessionRepo::new(store.as_ref()).list(id).await? {
            if store
                .get(&refresh_key(&session.refresh_hash))
                .await?
                .is_none()
            {
                wrong.push(format!("session {} has no refresh token", session.id));
            }
        }
        Ok(wrong)
    }
}

/// A password change, by a signed-in user: the hash as it was before.
#[derive(Default)]
struct ChangePassword(Mutex<Option<String>>);

const NEW_PASSWORD: &str = "a brand new passphrase";

#[async_trait]
impl Case for ChangePassword {
    fn name(&self) -> &'static str {
        "change a password"
    }

    async fn prepare(&self, backend: &LocalBackend) -> anyhow::Result<()> {
        let user = verified_account(backend).await?;
        let issuer = backend.token_issuer()?;
        backend
            .accounts()?
            .login(&issuer, EMAIL, PASSWORD, &ClientInfo::default())
            .await?;
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(user.password_hash.0);
        Ok(())
    }

    async fn run(&self, store: Arc<dyn ItemStore>, backend: &dyn Backend, ids: Arc<Ids>) {
        let users = UserRepo::new(store.clone());
        let email = Email::parse(EMAIL).expect("an address");
        let Ok(Some(id)) = users.id_by_email(&email).await else {
            return;
        };
        let Ok(Some(user)) = users.get(id).await else {
            return;
        };
        let Ok(sessions) = SessionRepo::new(store.as_ref()).list(id).await else {
            return;
        };
        let Some(session) = sessions.first() else {
            return;
        };
        let accounts = shared::accounts::Accounts::new(store, backend.clock(), ids);
        let new =
            shared::auth::password::Password::parse(NEW_PASSWORD.to_owned()).expect("a password");
        let _ = accounts
            .change_password(&user, session.id, PASSWORD, &new, &ClientInfo::default())
            .await;
    }

    /// The new password and its `user.password_changed` event come together or not at all.
    async fn violations(&self, store: Arc<dyn ItemStore>, _: &Ids) -> anyhow::Result<Vec<String>> {
        let announced = pending_about(store.as_ref(), EventType::UserPasswordChanged).await?;
        let users = UserRepo::new(store);
        let id = users
            .id_by_email(&Email::parse(EMAIL)?)
            .await?
            .context("the user is gone")?;
        let user = users.get(id).await?.context("the user is gone")?;
        let before = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let changed = Some(user.password_hash.0) != before;
        let mut wrong = Vec::new();
        if changed != announced.contains(&id.to_string()) {
            wrong.push(format!(
                "password changed {changed}, its event {}",
                !changed
            ));
        }
        Ok(wrong)
    }
}

/// What the check must catch: a job and its event written by two calls instead of one
/// transaction.
struct CreateJobInTwoWrites;

#[async_trait]
impl Case for CreateJobInTwoWrites {
    fn name(&self) -> &'static str {
        "create a job in two writes"
    }

    async fn run(&self, store: Arc<dyn ItemStore>, backend: &dyn Backend, ids: Arc<Ids>) {
        let new =
            NewJob::of(&functions::maintenance::purge_expired::PurgeRequest {}).expect("a job");
        let (_, writes) =
            shared::jobs::enqueue::enqueue_writes(new, backend.clock().now(), ids.as_ref())
                .expect("the writes");
        for write in writes {
            if store.transact(vec![write]).await.is_err() {
                return;
            }
        }
    }

    async fn violations(
        &self,
        store: Arc<dyn ItemStore>,
        ids: &Ids,
    ) -> anyhow::Result<Vec<String>> {
        CreateJob.violations(store, ids).await
    }
}

/// The verified account at [`EMAIL`] the cases after registration act on.
async fn verified_account(backend: &LocalBackend) -> anyhow::Result<shared::users::User> {
    let account = tests::local::new_account(EMAIL, PASSWORD, true)?;
    Ok(backend.accounts()?.create(account).await?)
}

/// A fresh local backend with its keys and seeded roles.
async fn fresh() -> anyhow::Result<(tempfile::TempDir, LocalBackend)> {
    let dir = tempfile::tempdir()?;
    let backend = tests::local::identity_backend(dir.path()).await?;
    Ok((dir, backend))
}

/// `case` over the backend's store seen by `observer`.
async fn run_over(
    case: &dyn Case,
    backend: &LocalBackend,
    observer: Arc<dyn Observer>,
    ids: Arc<Ids>,
) -> anyhow::Result<()> {
    case.prepare(backend).await?;
    let store: Arc<dyn ItemStore> = Arc::new(Observed::new(backend.store()?, observer));
    let faulty = WithStore::new(backend, store.clone());
    case.run(store, &faulty, ids).await;
    Ok(())
}

#[tokio::test]
// The suite prints what it tried: use cases, fault points, violations.
#[allow(clippy::print_stdout)]
async fn a_change_commits_with_its_event_whatever_call_of_the_store_fails() -> anyhow::Result<()> {
    let change_password = ChangePassword::default();
    let cases: [&dyn Case; 5] = [
        &Register,
        &CreateJob,
        &DeleteAccount,
        &Login,
        &change_password,
    ];
    let (mut tried, mut violations) = (0, Vec::new());
    for case in cases {
        let (_dir, backend) = fresh().await?;
        let counter = Faulty::new(0, Fault::FailedBefore);
        run_over(case, &backend, counter.clone(), Arc::default()).await?;
        let calls = counter.calls.load(Ordering::SeqCst);
        assert!(calls > 0, "{} made no store call", case.name());
        for at in 1..=calls {
            for fault in FAULTS {
                let (_dir, backend) = fresh().await?;
                let ids = Arc::new(Ids::default());
                run_over(case, &backend, Faulty::new(at, fault), ids.clone()).await?;
                for violation in case.violations(backend.store()?, &ids).await? {
                    violations.push(format!("{}, call {at} {fault:?}: {violation}", case.name()));
                }
                tried += 1;
            }
        }
        println!(
            "faults: {}: {calls} store calls × {} faults",
            case.name(),
            FAULTS.len()
        );
    }
    println!("faults: {tried} runs, {} violations", violations.len());
    assert!(violations.is_empty(), "{}", violations.join("\n"));

    // The check itself: the job and its event in two writes, the second failed, is caught.
    let (_dir, backend) = fresh().await?;
    let ids = Arc::new(Ids::default());
    let faulty = Faulty::new(2, Fault::FailedBefore);
    run_over(&CreateJobInTwoWrites, &backend, faulty, ids.clone()).await?;
    let caught = CreateJobInTwoWrites
        .violations(backend.store()?, &ids)
        .await?;
    assert!(!caught.is_empty(), "a job without its event went unnoticed");
    Ok(())
}
