//! Random histories under one fault: proptest makes a sequence of use cases over three
//! addresses (register, create, log in, change a password, ask for a reset, delete, upload an
//! avatar, create a job, let the background work run) and a fault at a random call of a random port. The state
//! the history leaves, once the background work has run without faults, must hold the
//! invariants of every state, with every event relayed, every job finished and every queue
//! drained. Failing histories shrink to the shortest that still fails.
//!
//! `PROPTEST_CASES` sets how many histories run (16 by default).

use std::cell::RefCell;
use std::collections::BTreeMap;

use infra::compose::{Backend, UPLOADS_QUEUE};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use shared::accounts::ClientInfo;
use shared::auth::password::Password;
use shared::users::{Email, UserRepo};

use super::accounts::create_job;
use super::pipeline::upload_avatar;
use super::{Fault, Faults, FaultyBackend, Fresh, PORTS, Plan, Port};
use crate::auth::PASSWORD;

const ADDRESSES: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    Register(usize),
    Create(usize),
    Login(usize),
    ChangePassword(usize),
    RequestReset(usize),
    Delete(usize),
    UploadAvatar(usize),
    CreateJob,
    Work,
}

fn step() -> impl Strategy<Value = Step> {
    let who = 0..ADDRESSES;
    prop_oneof![
        who.clone().prop_map(Step::Register),
        who.clone().prop_map(Step::Create),
        who.clone().prop_map(Step::Login),
        who.clone().prop_map(Step::ChangePassword),
        who.clone().prop_map(Step::RequestReset),
        who.clone().prop_map(Step::Delete),
        who.prop_map(Step::UploadAvatar),
        Just(Step::CreateJob),
        Just(Step::Work),
    ]
}

/// A fault at a call a history reaches: the store takes dozens of calls in a history, the
/// other ports a few.
fn plan() -> impl Strategy<Value = Plan> {
    (0..PORTS.len(), 1..40usize, 0..4usize).prop_map(|(port, at, fault)| {
        let port = PORTS[port];
        // Not a condition failing where none could: see `pipeline::Background::faults`.
        let faults: Vec<Fault> = port
            .faults()
            .iter()
            .copied()
            .filter(|fault| *fault != Fault::ConditionFailed)
            .collect();
        Plan {
            port,
            at: if port == Port::Store { at } else { 1 + at % 6 },
            fault: faults[fault % faults.len()],
        }
    })
}

fn address(who: usize) -> Email {
    Email::parse(&format!("user{who}@example.com")).expect("an address")
}

/// The passwords the history believes each address has.
type Passwords = BTreeMap<usize, String>;

async fn take(step: &Step, system: &Fresh, backend: &FaultyBackend, passwords: &mut Passwords) {
    let Ok(accounts) = backend.accounts() else {
        return;
    };
    let client = ClientInfo::default();
    let password = |who: usize| passwords.get(&who).cloned().unwrap_or(PASSWORD.to_owned());
    match *step {
        Step::Register(who) | Step::Create(who) => {
            let email = address(who);
            // An administrator's accounts are verified; a registration waits for its link.
            let verified = matches!(step, Step::Create(_));
            let Ok(account) = tests::local::new_account(email.as_str(), PASSWORD, verified) else {
                return;
            };
            let made = if matches!(step, Step::Register(_)) {
                accounts.register(account, &client).await.map(drop)
            } else {
                accounts.create(account).await.map(drop)
            };
            if made.is_ok() {
                passwords.insert(who, PASSWORD.to_owned());
            }
        }
        Step::Login(who) => {
            if let Ok(issuer) = backend.token_issuer() {
                let email = address(who);
                let _ = accounts
                    .login(&issuer, email.as_str(), &password(who), &client)
                    .await;
            }
        }
        Step::ChangePassword(who) => {
            let Some(user) = user_of(backend, who).await else {
                return;
            };
            let Ok(store) = backend.store() else {
                return;
            };
            let sessions = shared::auth::session::SessionRepo::new(store.as_ref())
                .list(user.id)
                .await
                .unwrap_or_default();
            let Some(session) = sessions.first() else {
                return;
            };
            let new = format!("another passphrase {who}");
            let Ok(parsed) = Password::parse(new.clone()) else {
                return;
            };
            let changed = accounts
                .change_password(&user, session.id, &password(who), &parsed, &client)
                .await;
            if changed.is_ok() {
                passwords.insert(who, new);
            }
        }
        Step::RequestReset(who) => {
            let _ = accounts.request_reset(&address(who), &client).await;
        }
        Step::Delete(who) => {
            if let Some(user) = user_of(backend, who).await {
                let _ = accounts.delete_account(user.id).await;
            }
        }
        Step::UploadAvatar(who) => {
            if let Some(user) = user_of(backend, who).await {
                let uploads = backend.queue(UPLOADS_QUEUE);
                let _ = upload_avatar(backend, uploads, user.id).await;
            }
        }
        Step::CreateJob => create_job(backend).await,
        Step::Work => {
            let _ = system.settle_over(backend).await;
        }
    }
}

async fn user_of(backend: &dyn Backend, who: usize) -> Option<shared::users::User> {
    let users = UserRepo::new(backend.store().ok()?);
    let id = users.id_by_email(&address(who)).await.ok()??;
    users.get(id).await.ok()?
}

/// Runs the history with the fault, then the background work without; what is wrong after.
async fn history(steps: &[Step], plan: Plan) -> anyhow::Result<(bool, Vec<String>)> {
    let system = Fresh::new().await?;
    let faults = Faults::failing(plan);
    let backend = system.faulty(faults.clone());
    let mut passwords = Passwords::new();
    // The background work runs last under the fault too, so the fault may land anywhere.
    for step in steps.iter().chain([&Step::Work]) {
        take(step, &system, &backend, &mut passwords).await;
    }
    system.settle().await?;
    let state = system.state()?;
    let mut wrong = state.violations();
    if !state.pending().is_empty() {
        wrong.push(format!("{} events never relayed", state.pending().len()));
    }
    for job in state.jobs.iter().filter(|job| !job.status.is_final()) {
        wrong.push(format!("job {} left {}", job.id, job.status));
    }
    if state.messages > 0 {
        wrong.push(format!("{} messages left on the queues", state.messages));
    }
    Ok((faults.injected(), wrong))
}

#[test]
// The suite prints what it tried.
#[allow(clippy::print_stdout)]
fn random_histories_with_a_fault_keep_every_invariant() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(16);
    let config = Config {
        cases,
        // Failures are reported with their shrunk history; nothing is written to the tree.
        failure_persistence: None,
        ..Config::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let faulted = RefCell::new(BTreeMap::<String, usize>::new());
    let result = TestRunner::new(config).run(
        &(proptest::collection::vec(step(), 1..12), plan()),
        |(steps, plan)| {
            let (injected, wrong) = runtime
                .block_on(history(&steps, plan))
                .map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
            if injected {
                *faulted
                    .borrow_mut()
                    .entry(format!("{:?}", plan.port))
                    .or_default() += 1;
            }
            prop_assert!(wrong.is_empty(), "{}", wrong.join("\n"));
            Ok(())
        },
    );
    println!(
        "faults: {cases} random histories, faults injected by port {:?}",
        faulted.borrow()
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
