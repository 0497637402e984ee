//! The account use cases under faults: each change and its event commit together or not at
//! all, whatever store call fails.

use std::sync::{Mutex, PoisonError};

use anyhow::Context as _;
use async_trait::async_trait;
use infra::compose::Backend;
use shared::accounts::ClientInfo;
use shared::auth::one_time::{self, Purpose};
use shared::auth::password::Password;
use shared::auth::session::SessionRepo;
use shared::jobs::{JobRepo, NewJob};
use shared::messaging::event::EventType;
use shared::users::{Email, User, UserRepo};

use super::{Case, Fresh, Outcome};
use crate::auth::PASSWORD;
use crate::faults::FaultyBackend;

pub const EMAIL: &str = "ada@example.com";
const NEW_PASSWORD: &str = "a brand new passphrase";

pub fn cases() -> Vec<Box<dyn Case>> {
    vec![
        Box::new(Register),
        Box::new(CreateAccount),
        Box::new(ResendVerification),
        Box::new(VerifyEmail::default()),
        Box::new(Login),
        Box::new(ChangePassword::default()),
        Box::new(RequestReset),
        Box::new(ConfirmReset::default()),
        Box::new(DeleteAccount),
        Box::new(CreateJob),
        Box::new(RetryJob::default()),
    ]
}

/// The verified account at [`EMAIL`] the cases after registration act on.
pub async fn verified_account(system: &Fresh) -> anyhow::Result<User> {
    let account = tests::local::new_account(EMAIL, PASSWORD, true)?;
    Ok(system.backend.accounts()?.create(account).await?)
}

async fn user_at(backend: &dyn Backend, email: &str) -> Option<User> {
    let users = UserRepo::new(backend.store().ok()?);
    let id = users.id_by_email(&Email::parse(email).ok()?).await.ok()??;
    users.get(id).await.ok()?
}

fn address() -> Email {
    Email::parse(EMAIL).expect("an address")
}

/// The password hash of the account as it was prepared, to tell whether a run changed it.
#[derive(Default)]
struct Before(Mutex<Option<User>>);

impl Before {
    fn keep(&self, user: User) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(user);
    }

    fn user(&self) -> anyhow::Result<User> {
        let user = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        user.clone().context("the case was not prepared")
    }
}

/// Whether the password of the account at [`EMAIL`] moved on from `before`, and whether its
/// `user.password_changed` event says so: the two must agree.
fn password_change_and_event(outcome: &Outcome<'_>, before: &User) -> Vec<String> {
    let Some(user) = outcome.state.users.get(&before.id) else {
        return vec![format!("user {} is gone", before.id)];
    };
    let changed = user.password_hash != before.password_hash;
    let announced = outcome
        .state
        .events_about(EventType::UserPasswordChanged)
        .contains(&before.id.to_string());
    if changed == announced {
        Vec::new()
    } else {
        vec![format!("password changed {changed}, its event {announced}")]
    }
}

struct Register;

#[async_trait]
impl Case for Register {
    fn name(&self) -> &'static str {
        "register"
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let account = tests::local::new_account(EMAIL, PASSWORD, false).expect("an account");
        if let Ok(accounts) = backend.accounts() {
            let _ = accounts.register(account, &ClientInfo::default()).await;
        }
    }
}

/// An administrator's new account, verified.
struct CreateAccount;

#[async_trait]
impl Case for CreateAccount {
    fn name(&self) -> &'static str {
        "create an account"
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let account = tests::local::new_account(EMAIL, PASSWORD, true).expect("an account");
        if let Ok(accounts) = backend.accounts() {
            let _ = accounts.create(account).await;
        }
    }
}

/// A mail asked for by address: its event is written, or nothing is.
struct ResendVerification;

#[async_trait]
impl Case for ResendVerification {
    fn name(&self) -> &'static str {
        "resend a verification mail"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        let account = tests::local::new_account(EMAIL, PASSWORD, false)?;
        system.backend.accounts()?.create(account).await?;
        Ok(())
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        if let Ok(accounts) = backend.accounts() {
            let _ = accounts
                .resend_verification(&address(), &ClientInfo::default())
                .await;
        }
    }
}

/// A verification link followed: the address is verified and the token used up together.
#[derive(Default)]
struct VerifyEmail(Mutex<Option<String>>);

#[async_trait]
impl Case for VerifyEmail {
    fn name(&self) -> &'static str {
        "verify an address"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        let account = tests::local::new_account(EMAIL, PASSWORD, false)?;
        let user = system.backend.accounts()?.create(account).await?;
        let store = system.backend.store()?;
        let now = system.backend.clock().now();
        let token = one_time::issue(
            store.as_ref(),
            system.backend.random().as_ref(),
            Purpose::VerifyEmail,
            &user,
            now,
        )
        .await?;
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(token.expose().to_owned());
        Ok(())
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let token = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let (Ok(accounts), Some(token)) = (backend.accounts(), token) {
            let _ = accounts.verify_email(&token).await;
        }
    }

    /// Verified, or the link still works.
    async fn violations(&self, outcome: &Outcome<'_>) -> anyhow::Result<Vec<String>> {
        let token = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let verified = user_at(outcome.system.backend.as_ref(), EMAIL)
            .await
            .is_some_and(|user| user.email_verified);
        if verified {
            return Ok(Vec::new());
        }
        let accounts = outcome.system.backend.accounts()?;
        Ok(
            match accounts.verify_email(&token.context("no token")?).await {
                Ok(_) => Vec::new(),
                Err(e) => vec![format!(
                    "the address is not verified and the link is spent: {e}"
                )],
            },
        )
    }
}

struct Login;

#[async_trait]
impl Case for Login {
    fn name(&self) -> &'static str {
        "log in"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        verified_account(system).await.map(drop)
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let (Ok(issuer), Ok(accounts)) = (backend.token_issuer(), backend.accounts()) else {
            return;
        };
        let _ = accounts
            .login(&issuer, EMAIL, PASSWORD, &ClientInfo::default())
            .await;
    }
}

/// A password change by a signed-in user.
#[derive(Default)]
struct ChangePassword(Before);

#[async_trait]
impl Case for ChangePassword {
    fn name(&self) -> &'static str {
        "change a password"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        let user = verified_account(system).await?;
        let issuer = system.backend.token_issuer()?;
        system
            .backend
            .accounts()?
            .login(&issuer, EMAIL, PASSWORD, &ClientInfo::default())
            .await?;
        self.0.keep(user);
        Ok(())
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let Some(user) = user_at(backend, EMAIL).await else {
            return;
        };
        let Ok(store) = backend.store() else {
            return;
        };
        let Ok(sessions) = SessionRepo::new(store.as_ref()).list(user.id).await else {
            return;
        };
        let (Some(session), Ok(accounts)) = (sessions.first(), backend.accounts()) else {
            return;
        };
        let new = Password::parse(NEW_PASSWORD.to_owned()).expect("a password");
        let _ = accounts
            .change_password(&user, session.id, PASSWORD, &new, &ClientInfo::default())
            .await;
    }

    async fn violations(&self, outcome: &Outcome<'_>) -> anyhow::Result<Vec<String>> {
        Ok(password_change_and_event(outcome, &self.0.user()?))
    }
}

struct RequestReset;

#[async_trait]
impl Case for RequestReset {
    fn name(&self) -> &'static str {
        "ask for a password reset"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        verified_account(system).await.map(drop)
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        if let Ok(accounts) = backend.accounts() {
            let _ = accounts
                .request_reset(&address(), &ClientInfo::default())
                .await;
        }
    }
}

/// A new password set with a reset token: the password, the spent token and the event
/// together.
#[derive(Default)]
struct ConfirmReset {
    before: Before,
    token: Mutex<Option<String>>,
}

#[async_trait]
impl Case for ConfirmReset {
    fn name(&self) -> &'static str {
        "reset a password"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        let user = verified_account(system).await?;
        let store = system.backend.store()?;
        let token = one_time::issue(
            store.as_ref(),
            system.backend.random().as_ref(),
            Purpose::ResetPassword,
            &user,
            system.backend.clock().now(),
        )
        .await?;
        *self.token.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(token.expose().to_owned());
        self.before.keep(user);
        Ok(())
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let token = self
            .token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let new = Password::parse(NEW_PASSWORD.to_owned()).expect("a password");
        if let (Ok(accounts), Some(token)) = (backend.accounts(), token) {
            let _ = accounts.confirm_reset(&token, &new).await;
        }
    }

    async fn violations(&self, outcome: &Outcome<'_>) -> anyhow::Result<Vec<String>> {
        Ok(password_change_and_event(outcome, &self.before.user()?))
    }
}

struct DeleteAccount;

#[async_trait]
impl Case for DeleteAccount {
    fn name(&self) -> &'static str {
        "delete an account"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        verified_account(system).await?;
        let issuer = system.backend.token_issuer()?;
        system
            .backend
            .accounts()?
            .login(&issuer, EMAIL, PASSWORD, &ClientInfo::default())
            .await?;
        Ok(())
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let Some(user) = user_at(backend, EMAIL).await else {
            return;
        };
        if let Ok(accounts) = backend.accounts() {
            let _ = accounts.delete_account(user.id).await;
        }
    }
}

struct CreateJob;

#[async_trait]
impl Case for CreateJob {
    fn name(&self) -> &'static str {
        "create a job"
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        create_job(backend).await;
    }
}

/// Queues a purge, as `POST /jobs` does; whatever it answers.
pub async fn create_job(backend: &dyn Backend) {
    let new = NewJob::of(&functions::maintenance::purge_expired::PurgeRequest {}).expect("a job");
    if let Ok(store) = backend.store() {
        let _ = shared::jobs::enqueue(
            store.as_ref(),
            backend.clock().as_ref(),
            backend.random().as_ref(),
            new,
        )
        .await;
    }
}

/// An operator's retry of a failed job: queued again with a new `job.enqueued` event, or
/// left failed without one.
#[derive(Default)]
struct RetryJob(Mutex<Option<uuid::Uuid>>);

#[async_trait]
impl Case for RetryJob {
    fn name(&self) -> &'static str {
        "retry a failed job"
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        let backend = system.backend.as_ref();
        let store = backend.store()?;
        let new = NewJob::of(&functions::maintenance::purge_expired::PurgeRequest {})?;
        let job = shared::jobs::enqueue(
            store.as_ref(),
            backend.clock().as_ref(),
            backend.random().as_ref(),
            new,
        )
        .await?;
        let failed = shared::jobs::Job {
            status: shared::jobs::JobStatus::Failed,
            ..job.clone()
        };
        JobRepo::new(store).save(&job, &failed).await?;
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(job.id);
        Ok(())
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let id = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(id), Ok(store)) = (id, backend.store()) {
            let now = backend.clock().now();
            let _ = JobRepo::new(store)
                .retry(id, now, backend.random().as_ref())
                .await;
        }
    }

    async fn violations(&self, outcome: &Outcome<'_>) -> anyhow::Result<Vec<String>> {
        let id = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let id = id.context("the case was not prepared")?;
        let job = outcome
            .state
            .jobs
            .iter()
            .find(|job| job.id == id)
            .context("the job is gone")?;
        let events = outcome
            .state
            .events
            .iter()
            .filter(|e| e.event_type == EventType::JobEnqueued && e.aggregate_id == id.to_string())
            .count();
        let queued = job.status == shared::jobs::JobStatus::Queued;
        Ok(if events == 1 + usize::from(queued) {
            Vec::new()
        } else {
            vec![format!(
                "job {id} is {}, with {events} job.enqueued events",
                job.status
            )]
        })
    }
}

/// What the checks must catch: a job and its event written by two calls instead of one
/// transaction.
pub struct CreateJobInTwoWrites;

#[async_trait]
impl Case for CreateJobInTwoWrites {
    fn name(&self) -> &'static str {
        "create a job in two writes"
    }

    async fn run(&self, _: &Fresh, backend: &FaultyBackend) {
        let new =
            NewJob::of(&functions::maintenance::purge_expired::PurgeRequest {}).expect("a job");
        let Ok(store) = backend.store() else {
            return;
        };
        let (_, writes) = shared::jobs::enqueue::enqueue_writes(
            new,
            backend.clock().now(),
            backend.random().as_ref(),
        )
        .expect("the writes");
        for write in writes {
            if store.transact(vec![write]).await.is_err() {
                return;
            }
        }
    }
}
