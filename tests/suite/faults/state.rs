//! What a run left in the local database, read whole, and the invariants every state must hold
//! whatever failed: no user without their address claim or the reverse, no session without its
//! user or its refresh token, no job without its event, no half-deleted user, no event about a
//! change that was never made.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;
use shared::auth::session::{RefreshRecord, Session};
use shared::jobs::Job;
use shared::messaging::event::{Event, EventType};
use shared::rbac::admins::{ROSTER_SK, Roster, counts_as_admin};
use shared::rbac::model::Assignment;
use shared::rbac::repo::PARTITION;
use shared::users::User;
use shared::users::repo::ASSIGNMENT_PREFIX;
use uuid::Uuid;

/// Every item of the kinds the invariants speak of.
#[derive(Debug, Default)]
pub struct State {
    pub users: BTreeMap<Uuid, User>,
    /// Address → the user who claims it.
    pub claims: BTreeMap<String, Uuid>,
    pub sessions: Vec<Session>,
    pub refresh_tokens: Vec<RefreshRecord>,
    pub assignments: Vec<Assignment>,
    /// The administrators' roster, once stored.
    pub roster: Option<Roster>,
    pub jobs: Vec<Job>,
    /// Every event of the outbox, pending or relayed.
    pub events: Vec<Event>,
    /// The ids of the relayed ones.
    pub relayed: BTreeSet<Uuid>,
    /// Messages on any queue, dead-letter queues included.
    pub messages: usize,
}

#[derive(Deserialize)]
struct Claim {
    user_id: Uuid,
}

#[derive(Deserialize)]
struct Outboxed {
    #[serde(flatten)]
    event: Event,
    #[serde(default)]
    relayed_at: Option<serde_json::Value>,
}

impl State {
    /// Reads the items of the database of a local data directory.
    pub fn read(data_dir: &Path) -> anyhow::Result<Self> {
        let db = rusqlite::Connection::open(data_dir.join("data.sqlite"))?;
        let mut statement = db.prepare("SELECT pk, sk, body FROM items")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        let messages: i64 = db.query_row("SELECT count(*) FROM messages", [], |row| row.get(0))?;
        let mut state = Self {
            messages: usize::try_from(messages)?,
            ..Self::default()
        };
        for row in rows {
            let (pk, sk, body) = row?;
            state
                .add(&pk, &sk, &body)
                .with_context(|| format!("reading item {pk} / {sk}: {body}"))?;
        }
        Ok(state)
    }

    fn add(&mut self, pk: &str, sk: &str, body: &str) -> anyhow::Result<()> {
        let (kind, id) = pk.split_once('#').unwrap_or((pk, ""));
        match (kind, sk) {
            ("USER", "USER") => {
                let user: User = serde_json::from_str(body)?;
                self.users.insert(user.id, user);
            }
            ("USER", sk) if sk.starts_with("SESSION#") => {
                self.sessions.push(serde_json::from_str(body)?);
            }
            ("USER", sk) if sk.starts_with(ASSIGNMENT_PREFIX) => {
                self.assignments.push(serde_json::from_str(body)?);
            }
            (PARTITION, ROSTER_SK) => self.roster = Some(serde_json::from_str(body)?),
            ("EMAIL", "EMAIL") => {
                let claim: Claim = serde_json::from_str(body)?;
                self.claims.insert(id.to_owned(), claim.user_id);
            }
            ("REFRESH", "REFRESH") => self.refresh_tokens.push(serde_json::from_str(body)?),
            ("JOB", "JOB") => self.jobs.push(serde_json::from_str(body)?),
            ("OUTBOX", _) => {
                let outboxed: Outboxed = serde_json::from_str(body)?;
                if outboxed.relayed_at.is_some_and(|at| !at.is_null()) {
                    self.relayed.insert(outboxed.event.id);
                }
                self.events.push(outboxed.event);
            }
            _ => {}
        }
        Ok(())
    }

    /// The events of a type, by what they are about.
    pub fn events_about(&self, event_type: EventType) -> BTreeSet<String> {
        self.events
            .iter()
            .filter(|e| e.event_type == event_type)
            .map(|e| e.aggregate_id.clone())
            .collect()
    }

    /// What is wrong with this state, whatever made it.
    pub fn violations(&self) -> Vec<String> {
        let mut wrong = Vec::new();
        let deleted = self.events_about(EventType::UserDeleted);
        let registered = self.events_about(EventType::UserRegistered);
        let enqueued = self.events_about(EventType::JobEnqueued);
        // Remains of a user that is gone are erased by the reaction to `user.deleted`; without
        // that event nothing ever erases them.
        let erasable = |user: &Uuid| deleted.contains(&user.to_string());

        for (id, user) in &self.users {
            if self.claims.get(user.email.as_str()) != Some(id) {
                wrong.push(format!(
                    "user {id} does not hold the claim of {}",
                    user.email
                ));
            }
            if !registered.contains(&id.to_string()) && !self.is_bootstrapped(user) {
                wrong.push(format!(
                    "user {id} exists without its user.registered event"
                ));
            }
            if erasable(id) {
                wrong.push(format!("user {id} is announced deleted but is still there"));
            }
        }
        for (email, id) in &self.claims {
            if !self.users.contains_key(id) {
                wrong.push(format!("{email} is claimed by {id}, which does not exist"));
            }
        }
        for user in &registered {
            let id: Option<Uuid> = user.parse().ok();
            if !id.is_some_and(|id| self.users.contains_key(&id) || erasable(&id)) {
                wrong.push(format!("user.registered of {user}, who was never made"));
            }
        }
        let refreshed: BTreeSet<Uuid> = self.refresh_tokens.iter().map(|r| r.session.id).collect();
        for session in &self.sessions {
            if !self.users.contains_key(&session.user_id) && !erasable(&session.user_id) {
                wrong.push(format!(
                    "session {} of user {}, who is gone with nothing to erase it",
                    session.id, session.user_id
                ));
            }
            if !refreshed.contains(&session.id) {
                wrong.push(format!("session {} has no refresh token", session.id));
            }
        }
        for assignment in &self.assignments {
            let user = &assignment.user_id;
            if !self.users.contains_key(user) && !erasable(user) {
                wrong.push(format!(
                    "role {} of user {user}, who is gone with nothing to erase it",
                    assignment.role_id
                ));
            }
        }
        // The roster is what keeps the last administrator: it lists exactly the users who
        // count as one.
        if let Some(roster) = &self.roster {
            let admins: BTreeSet<Uuid> = self
                .users
                .values()
                .filter(|user| {
                    let held: Vec<Assignment> = self
                        .assignments
                        .iter()
                        .filter(|a| a.user_id == user.id)
                        .cloned()
                        .collect();
                    counts_as_admin(user, &held)
                })
                .map(|user| user.id)
                .collect();
            if roster.members != admins {
                wrong.push(format!(
                    "the roster lists {:?}, the administrators are {admins:?}",
                    roster.members
                ));
            }
        }
        for job in &self.jobs {
            if !enqueued.contains(&job.id.to_string()) {
                wrong.push(format!(
                    "job {} exists without its job.enqueued event",
                    job.id
                ));
            }
        }
        let jobs: BTreeSet<String> = self.jobs.iter().map(|j| j.id.to_string()).collect();
        for job in &enqueued {
            if !jobs.contains(job) {
                wrong.push(format!("job.enqueued of {job}, which was never stored"));
            }
        }
        wrong
    }

    /// The administrator the system makes at start has no registration event.
    fn is_bootstrapped(&self, user: &User) -> bool {
        user.email.as_str() == super::ADMIN_EMAIL
    }

    /// The events still to relay.
    pub fn pending(&self) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| !self.relayed.contains(&e.id))
            .collect()
    }
}
