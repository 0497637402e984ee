//! After the last restart: waits for the pipeline to drain, then holds the system to every
//! answer it gave, and counts what it finds.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::load::{Answer, CREATABLE, Call, Ledger, Retried, call, fresh_client};
use crate::runtime::crash::DATABASE;

const VERIFICATION: &str = "Verify your email address";
const WELCOME: &str = "Welcome";

/// Waits until nothing is left to do: the relay has read the whole change feed and no queue
/// holds a message (in flight or hidden by a dead process's receive). Both are read in one
/// snapshot, and every step of the pipeline writes what it causes before it deletes what caused
/// it, so a snapshot that shows neither shows a drained pipeline.
pub(super) async fn drained(data_dir: &Path, deadline: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut db = rusqlite::Connection::open(data_dir.join(DATABASE))?;
    db.busy_timeout(Duration::from_secs(5))?;
    loop {
        let (behind, messages) = {
            let snapshot = db.transaction()?;
            let last: i64 =
                snapshot.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
                    r.get(0)
                })?;
            let read: i64 = snapshot.query_row(
                "SELECT COALESCE(MIN(seq), 0) FROM feed_positions",
                [],
                |r| r.get(0),
            )?;
            let messages: i64 = snapshot.query_row(
                "SELECT COUNT(*) FROM messages WHERE queue NOT LIKE '%-dlq'",
                [],
                |r| r.get(0),
            )?;
            (last - read, messages)
        };
        if behind == 0 && messages == 0 {
            return Ok(start.elapsed());
        }
        if start.elapsed() > deadline {
            bail!(
                "not drained after {deadline:?}: the relay is {behind} changes behind, {messages} messages queued"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Outbox events, and how many of them the relay published.
pub(super) fn outbox(data_dir: &Path) -> anyhow::Result<(i64, i64)> {
    let db = rusqlite::Connection::open(data_dir.join(DATABASE))?;
    Ok(db.query_row(
        "SELECT COUNT(*), COUNT(json_extract(body, '$.relayed_at')) FROM items
         WHERE pk LIKE 'OUTBOX#%' AND sk = 'EVENT'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// Messages per dead-letter queue.
pub(super) fn dead_letters(data_dir: &Path) -> anyhow::Result<BTreeMap<String, i64>> {
    let db = rusqlite::Connection::open(data_dir.join(DATABASE))?;
    let mut query =
        db.prepare("SELECT queue, COUNT(*) FROM messages WHERE queue LIKE '%-dlq' GROUP BY queue")?;
    let rows = query.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Job records of the types `POST /jobs` creates (nothing else makes them here: the schedules
/// run their handlers, not jobs).
fn jobs_created(data_dir: &Path) -> anyhow::Result<usize> {
    let db = rusqlite::Connection::open(data_dir.join(DATABASE))?;
    let mut count = 0;
    for job_type in CREATABLE {
        let n: i64 = db.query_row(
            "SELECT COUNT(*) FROM items WHERE sk = 'JOB' AND json_extract(body, '$.job_type') = ?1",
            [job_type],
            |r| r.get(0),
        )?;
        count += usize::try_from(n)?;
    }
    Ok(count)
}

/// The avatar URL the job of upload `key` recorded setting, if one did.
fn avatar_set_by(data_dir: &Path, key: &str) -> anyhow::Result<Option<String>> {
    let db = rusqlite::Connection::open(data_dir.join(DATABASE))?;
    let mut query = db.prepare(
        "SELECT json_extract(body, '$.result.avatar_url') FROM items WHERE sk = 'JOB'
         AND json_extract(body, '$.job_type') = 'process_avatar'
         AND json_extract(body, '$.payload.key') = ?1",
    )?;
    let urls = query.query_map([key], |r| r.get::<_, Option<String>>(0))?;
    Ok(urls
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .next())
}

/// The checks' findings: figures to print and violations to fail on.
#[derive(Debug, Default)]
pub(super) struct Findings {
    pub figures: Vec<String>,
    pub violations: Vec<String>,
}

struct Reader {
    client: reqwest::Client,
    base: String,
    admin: String,
}

impl Reader {
    async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        let get = Call {
            method: &Method::GET,
            path,
            token: Some(&self.admin),
            key: None,
        };
        match call(&self.client, &self.base, get, None).await {
            Answer::Got(status, body) => Ok((status, body)),
            Answer::Lost => bail!("GET {path} got no answer from the restarted system"),
        }
    }

    /// The user's id with this address, if there is one.
    async fn user_at(&self, email: &str) -> anyhow::Result<Option<String>> {
        let (status, body) = self
            .get(&format!("/api/v1/users?q={email}&limit=100"))
            .await?;
        anyhow::ensure!(status == StatusCode::OK, "searching users: {status} {body}");
        Ok(body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|user| user["email"] == email)
            .and_then(|user| user["id"].as_str().map(str::to_owned)))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Mails per (address, subject).
fn count_mails(mailbox: &Value) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for mail in mailbox["items"].as_array().into_iter().flatten() {
        let key = (
            mail["to"].as_str().unwrap_or_default().to_owned(),
            mail["subject"].as_str().unwrap_or_default().to_owned(),
        );
        *counts.entry(key).or_default() += 1;
    }
    counts
}

pub(super) async fn check(
    base: &str,
    admin: &str,
    ledger: &Ledger,
    retried: &Retried,
    data_dir: &Path,
) -> anyhow::Result<Findings> {
    let reader = Reader {
        client: fresh_client()?,
        base: base.to_owned(),
        admin: admin.to_owned(),
    };
    let mut found = Findings::default();
    let mailbox = reqwest::get(format!("{base}/_local/mailbox"))
        .await?
        .error_for_status()?
        .json::<Value>()
        .await
        .context("reading the mailbox")?;
    let mails = count_mails(&mailbox);
    let mails_to = |email: &str, subject: &str| {
        mails
            .get(&(email.to_owned(), subject.to_owned()))
            .copied()
            .unwrap_or(0)
    };

    // Registrations: every acknowledged one is there with exactly one verification mail; one
    // whose answer was lost is either wholly there (with its mail) or not at all.
    let mut registered_found = 0;
    let mut verification_mails = 0;
    for (email, id) in &ledger.registered {
        let (status, body) = reader.get(&format!("/api/v1/users/{id}")).await?;
        if status == StatusCode::OK && body["user"]["email"] == email.as_str() {
            registered_found += 1;
        } else {
            found.violations.push(format!(
                "acknowledged registration {email} ({id}): {status} {body}"
            ));
        }
        let mails = mails_to(email, VERIFICATION);
        verification_mails += usize::from(mails == 1);
        if mails != 1 {
            found.violations.push(format!(
                "{email} was registered and has {mails} verification mails"
            ));
        }
    }
    let mut lost_there = 0;
    for email in &ledger.registrations_lost {
        let there = reader.user_at(email).await?.is_some();
        lost_there += usize::from(there);
        let (mails, expected) = (mails_to(email, VERIFICATION), usize::from(there));
        if mails != expected {
            found.violations.push(format!(
                "{email}, registered without an answer, {} there with {mails} verification mails",
                if there { "is" } else { "is not" }
            ));
        }
    }
    found.figures.push(format!(
        "registrations acknowledged {}, found {registered_found}; verification mails {verification_mails} for {}; unanswered {}, of which there {lost_there}, each with its one mail",
        ledger.registered.len(),
        ledger.registered.len(),
        ledger.registrations_lost.len(),
    ));

    // Administrators' changes: created users, each with one welcome mail; renames; roles.
    let mut created_found = 0;
    for (email, id) in &ledger.created {
        let (status, _) = reader.get(&format!("/api/v1/users/{id}")).await?;
        let mails = mails_to(email, WELCOME);
        if status == StatusCode::OK && mails == 1 {
            created_found += 1;
        } else {
            found.violations.push(format!(
                "acknowledged creation of {email} ({id}): {status}, {mails} welcome mails"
            ));
        }
    }
    for email in &ledger.creations_lost {
        let there = reader.user_at(email).await?.is_some();
        let mails = mails_to(email, WELCOME);
        if mails != usize::from(there) {
            found.violations.push(format!(
                "{email}, created without an answer, {} there with {mails} welcome mails",
                if there { "is" } else { "is not" }
            ));
        }
    }
    let mut renames_found = 0;
    for (id, name) in &ledger.renamed {
        let (_, body) = reader.get(&format!("/api/v1/users/{id}")).await?;
        if body["user"]["name"] == name.as_str() {
            renames_found += 1;
        } else {
            found
                .violations
                .push(format!("user {id} was renamed {name:?} and reads {body}"));
        }
    }
    let mut roles_found = 0;
    for id in &ledger.promoted {
        let (_, body) = reader.get(&format!("/api/v1/users/{id}/roles")).await?;
        let roles = body["items"].as_array().into_iter().flatten();
        if roles.clone().any(|role| role["name"] == "MODERATOR") {
            roles_found += 1;
        } else {
            found
                .violations
                .push(format!("user {id} was made MODERATOR and holds {body}"));
        }
    }
    found.figures.push(format!(
        "users created acknowledged {}, found with their welcome mail {created_found}; renames acknowledged {}, found {renames_found}; role assignments acknowledged {}, found {roles_found}",
        ledger.created.len(),
        ledger.renamed.len(),
        ledger.promoted.len(),
    ));

    // Jobs: every acknowledged one reached a final state.
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ledger.jobs {
        let (status, body) = reader.get(&format!("/api/v1/jobs/{id}")).await?;
        let job_status = body["job"]["status"]
            .as_str()
            .unwrap_or("missing")
            .to_owned();
        if status != StatusCode::OK || !["succeeded", "dead"].contains(&job_status.as_str()) {
            found
                .violations
                .push(format!("acknowledged job {id}: {status} {body}"));
        }
        *by_status.entry(job_status).or_default() += 1;
    }
    let finals = by_status.get("succeeded").copied().unwrap_or(0)
        + by_status.get("dead").copied().unwrap_or(0);
    // Each creation is one job, however often it was sent: the acknowledged ones, and one per
    // creation that got no answer (its retry replayed it, found it applied, or made it).
    let in_store = jobs_created(data_dir)?;
    let expected = ledger.jobs.len() - retried.replayed - retried.created + ledger.jobs_lost.len();
    if in_store != expected {
        found.violations.push(format!(
            "{in_store} jobs of the creatable types are stored for {expected} creations"
        ));
    }
    found.figures.push(format!(
        "jobs acknowledged {}, final {finals} ({by_status:?}); creations unanswered {}, retried with their key: {} replayed, {} answer lost, {} created then; jobs stored {in_store} for {expected} creations",
        ledger.jobs.len(),
        ledger.jobs_lost.len(),
        retried.replayed,
        retried.answer_lost,
        retried.created,
    ));

    // Avatars: every acknowledged upload was taken out of quarantine by its job, and its user
    // has an avatar; an upload without an answer is processed too if it was stored.
    let in_quarantine = |key: &str| {
        data_dir
            .join("blobs")
            .join(hex(&Sha256::digest(key)))
            .exists()
    };
    let mut uploaders: Vec<&String> = ledger.avatars.iter().map(|(id, _)| id).collect();
    uploaders.sort();
    uploaders.dedup();
    let mut processed = 0;
    for (id, key) in &ledger.avatars {
        if in_quarantine(key) {
            found.violations.push(format!(
                "user {id}'s acknowledged upload {key} was never processed"
            ));
        } else {
            processed += 1;
        }
    }
    // A user's last upload, when it was acknowledged, is their avatar: an older upload
    // processed late must not replace it.
    let mut avatars_found = 0;
    let mut latest_shown = 0;
    for id in &uploaders {
        let (_, body) = reader.get(&format!("/api/v1/users/{id}")).await?;
        let shown = &body["user"]["avatar_url"];
        if shown.is_string() {
            avatars_found += 1;
        } else {
            found
                .violations
                .push(format!("user {id} uploaded an avatar and has none: {body}"));
        }
        let acknowledged = ledger
            .avatars
            .iter()
            .filter(|(user, _)| user == *id)
            .map(|(_, key)| (key, true));
        let lost = ledger
            .uploads_lost
            .iter()
            .filter(|key| key.contains(id.as_str()))
            .map(|key| (key, false));
        // Upload keys end in a time-ordered id.
        let Some((last, true)) = acknowledged.chain(lost).max() else {
            continue;
        };
        match avatar_set_by(data_dir, last)? {
            Some(url) if *shown == url.as_str() => latest_shown += 1,
            Some(url) => found.violations.push(format!(
                "user {id}'s last upload {last} became {url}, and the user shows {shown}"
            )),
            // Its job found the upload gone: an attempt that died had set it already.
            None => latest_shown += 1,
        }
    }
    let stranded: Vec<&String> = ledger
        .uploads_lost
        .iter()
        .filter(|key| in_quarantine(key))
        .collect();
    for key in &stranded {
        found.violations.push(format!(
            "upload {key}, stored without an answer, was never processed"
        ));
    }
    found.figures.push(format!(
        "avatar uploads acknowledged {}, processed {processed}, for {} users, users with their avatar {avatars_found}, showing their last upload {latest_shown}; unanswered {}, stranded in quarantine {}",
        ledger.avatars.len(),
        uploaders.len(),
        ledger.uploads_lost.len(),
        stranded.len(),
    ));

    // Sessions: the last acknowledged tokens of each session still work.
    let mut live = 0;
    for (user, session) in &ledger.sessions {
        let profile = Call {
            method: &Method::GET,
            path: "/api/v1/auth/profile",
            token: Some(&session.access_token),
            key: None,
        };
        match call(&reader.client, base, profile, None).await {
            Answer::Got(StatusCode::OK, _) => {}
            Answer::Got(status, body) => found.violations.push(format!(
                "{user}'s last acknowledged access token: {status} {body}"
            )),
            Answer::Lost => bail!("a profile read got no answer from the restarted system"),
        }
        let post = Call {
            method: &Method::POST,
            path: "/api/v1/auth/refresh",
            token: None,
            key: None,
        };
        let body = json!({"refresh_token": session.refresh_token});
        match call(&reader.client, base, post, Some(body)).await {
            Answer::Got(StatusCode::OK, _) => live += 1,
            Answer::Got(status, body) => found.violations.push(format!(
                "{user}'s last acknowledged refresh token: {status} {body}"
            )),
            Answer::Lost => bail!("a refresh got no answer from the restarted system"),
        }
    }
    found.figures.push(format!(
        "logins acknowledged {}, refreshes acknowledged {}; sessions whose last answer came {}, live {live}",
        ledger.logins,
        ledger.refreshes,
        ledger.sessions.len(),
    ));

    for line in &ledger.unexpected {
        found.violations.push(format!("unexpected answer: {line}"));
    }
    Ok(found)
}
