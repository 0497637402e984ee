//! Faults at every call of every port, for every use case that changes something: for each
//! port a use case calls (store, queue, blob store, mailer, secrets), each call N of that port
//! and each way the port can fail it (a condition that does not hold, an error before the work,
//! an answer lost after the work, a mail rejected or refused), the use case runs once over a
//! fresh backend that fails its Nth call that way. The state it leaves must then hold the
//! invariants of every state (`state`) and those of its use case: a change commits with its
//! event or not at all, and what the background pipeline does after a fault has its effect
//! once. Prints what it tried.
//!
//! `properties` runs random sequences of use cases, with a fault at a random call, under
//! the same invariants.

mod accounts;
mod pipeline;
mod ports;
mod properties;
mod sessions_and_roles;
mod state;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use infra::compose::{Backend, LocalBackend};
use shared::auth::password::Password;
use shared::clock::ManualClock;
use shared::users::{Email, Name};

pub use ports::{Fault, Faults, FaultyBackend, PORTS, Plan, Port};
pub use state::State;

use crate::auth::PASSWORD;

/// The administrator every fresh system has, as the local system makes one at start.
pub const ADMIN_EMAIL: &str = "root@example.com";

/// A fresh local system's backend: its keys, its role catalog and its administrator, on a
/// clock the test moves (retries and visibility timeouts wait on it).
pub struct Fresh {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub backend: Arc<LocalBackend>,
}

impl Fresh {
    pub async fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let backend = tests::local::identity_backend_on(dir.path(), clock.clone()).await?;
        backend
            .accounts()?
            .ensure_admin(
                Email::parse(ADMIN_EMAIL)?,
                Name::parse("Root")?,
                Password::parse(PASSWORD.to_owned())?,
            )
            .await?;
        Ok(Self {
            dir,
            clock,
            backend: Arc::new(backend),
        })
    }

    /// The same system with its ports failing as `faults` plans.
    pub fn faulty(&self, faults: Arc<Faults>) -> FaultyBackend {
        FaultyBackend::new(self.backend.clone(), faults)
    }

    pub fn state(&self) -> anyhow::Result<State> {
        State::read(self.dir.path())
    }
}

/// What a case is judged on after its run.
pub struct Outcome<'a> {
    pub system: &'a Fresh,
    pub state: State,
    /// The fault the run was given (`None`: a run without one).
    pub plan: Option<Plan>,
}

impl Outcome<'_> {
    /// Whether the run's fault was `fault` on `port`.
    pub fn failed(&self, port: Port, fault: Fault) -> bool {
        self.plan
            .is_some_and(|plan| plan.port == port && plan.fault == fault)
    }
}

/// A use case under faults.
#[async_trait]
pub trait Case: Sync {
    fn name(&self) -> &'static str;

    /// What the case needs before it runs (made without faults).
    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        let _ = system;
        Ok(())
    }

    /// The faults of `port` the case meets: every one it can return, unless the case says
    /// why not.
    fn faults(&self, port: Port) -> Vec<Fault> {
        port.faults().to_vec()
    }

    /// Runs the use case over ports that fail as planned; whatever it answers is fine.
    async fn run(&self, system: &Fresh, backend: &FaultyBackend);

    /// What runs after the fault, without faults: the retries a trigger makes, the background
    /// work that follows.
    async fn recover(&self, system: &Fresh) -> anyhow::Result<()> {
        let _ = system;
        Ok(())
    }

    /// What must hold of the outcome beyond the invariants of every state.
    async fn violations(&self, outcome: &Outcome<'_>) -> anyhow::Result<Vec<String>> {
        let _ = outcome;
        Ok(Vec::new())
    }
}

/// What a run of a case with `plan` breaks.
async fn run_case(
    case: &dyn Case,
    plan: Option<Plan>,
) -> anyhow::Result<(Arc<Faults>, Vec<String>)> {
    let system = Fresh::new().await?;
    case.prepare(&system).await?;
    let faults = plan.map_or_else(Faults::counting, Faults::failing);
    let backend = system.faulty(faults.clone());
    case.run(&system, &backend).await;
    case.recover(&system).await?;
    let outcome = Outcome {
        system: &system,
        state: system.state()?,
        plan,
    };
    let mut wrong = outcome.state.violations();
    wrong.extend(case.violations(&outcome).await?);
    Ok((faults, wrong))
}

/// Runs every case under every fault it can meet; prints and returns the runs tried and the
/// violations found.
// The suite prints what it tried: use cases, fault points, violations.
#[allow(clippy::print_stdout)]
async fn every_fault_of(cases: &[Box<dyn Case>]) -> anyhow::Result<(usize, Vec<String>)> {
    let (mut tried, mut violations) = (0, Vec::new());
    for case in cases {
        let case = case.as_ref();
        let (counted, wrong) = run_case(case, None).await?;
        for violation in wrong {
            violations.push(format!("{}, without a fault: {violation}", case.name()));
        }
        let mut points = Vec::new();
        for port in PORTS {
            let calls = counted.calls(port);
            if calls > 0 {
                points.push(format!("{port:?} {calls}"));
            }
            for at in 1..=calls {
                for fault in case.faults(port) {
                    let plan = Plan { port, at, fault };
                    let (faults, wrong) = run_case(case, Some(plan)).await?;
                    for violation in wrong {
                        violations.push(format!("{}, {plan:?}: {violation}", case.name()));
                    }
                    tried += usize::from(faults.injected());
                }
            }
        }
        println!("faults: {}: calls {}", case.name(), points.join(", "));
    }
    Ok((tried, violations))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The suite prints what it tried.
#[allow(clippy::print_stdout)]
async fn every_use_case_keeps_its_invariants_whatever_call_of_whatever_port_fails()
-> anyhow::Result<()> {
    let mut cases = accounts::cases();
    cases.extend(sessions_and_roles::cases());
    cases.extend(pipeline::cases());
    // The cases run side by side: each waits on its own database's commits most of the time.
    let runs = cases
        .iter()
        .map(|case| every_fault_of(std::slice::from_ref(case)));
    let (mut tried, mut violations) = (0, Vec::new());
    for run in futures_util::future::join_all(runs).await {
        let (its_tried, its_violations) = run?;
        tried += its_tried;
        violations.extend(its_violations);
    }
    println!(
        "faults: {} use cases, {tried} fault points tried, {} violations",
        cases.len(),
        violations.len()
    );
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    assert!(tried > 0, "no fault was injected");
    Ok(())
}

#[tokio::test]
async fn the_checks_catch_a_job_without_its_event_and_an_administrator_behind_the_roster()
-> anyhow::Result<()> {
    let (_, violations) = every_fault_of(&[Box::new(accounts::CreateJobInTwoWrites)]).await?;
    assert!(
        violations
            .iter()
            .any(|v| v.contains("without its job.enqueued event")),
        "a job without its event went unnoticed: {violations:?}"
    );
    let case = sessions_and_roles::GiveAdminBehindTheRoster::default();
    let (_, violations) = every_fault_of(&[Box::new(case)]).await?;
    assert!(
        violations.iter().any(|v| v.contains("the roster lists")),
        "an administrator the roster does not list went unnoticed: {violations:?}"
    );
    Ok(())
}
