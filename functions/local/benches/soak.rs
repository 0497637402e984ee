//! Load and soak on the local system: `cargo bench -p local-system --bench soak [-- SECONDS]`.
//!
//! The server runs as its own process (this package's `local` binary, in the bench profile)
//! over a fresh data directory; 32 connections drive a mix of its hot paths for SECONDS (60 by
//! default): the profile read, a user listing, token refreshes (each connection rotating its
//! own session) and job creations (which the event runtime relays and runs). Printed: requests,
//! their rate, errors by kind, p50/p99 per path, the server's resident memory after the warm-up
//! and at the end, and the data directory's files and the change feed's length at both times.
//! A run that saw an error exits with a failure.

// A benchmark prints its figures.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::Mutex;

mod support;
use support::server::{ADMIN, ADMIN_PASSWORD as PASSWORD, Server};

const CONNECTIONS: usize = 32;
const ADMINS: usize = 4;
const WARM_UP: Duration = Duration::from_secs(5);

/// What one connection saw: latencies by path, and errors by kind.
#[derive(Default)]
struct Seen {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    errors: BTreeMap<String, usize>,
}

/// The data directory's files and their sizes (MB), and the change feed's length.
fn data_figures(dir: &Path) -> anyhow::Result<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let mb = entry.metadata()?.len() as f64 / 1_048_576.0;
            files.push(format!(
                "{} {mb:.2} MB",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    files.sort();
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let db = rusqlite::Connection::open_with_flags(dir.join("data.sqlite"), flags)?;
    let feed: i64 = db.query_row("SELECT COUNT(*) FROM changes", [], |row| row.get(0))?;
    let items: i64 = db.query_row("SELECT COUNT(*) FROM items", [], |row| row.get(0))?;
    Ok(format!(
        "{}; {items} items, {feed} changes in the feed",
        files.join(", ")
    ))
}

/// A signed-in connection: its access token and the refresh token it rotates.
type Session = (String, String);

/// The administrators the load signs in as: a user keeps at most 10 sessions, so each of
/// [`ADMINS`] holds a few connections' sessions. Their addresses.
async fn administrators(client: &reqwest::Client, server: &Server) -> anyhow::Result<Vec<String>> {
    let url = &server.url;
    let (root, _) = server.login(client, ADMIN).await?;
    let roles: Value = client
        .get(format!("{url}/api/v1/roles"))
        .bearer_auth(&root)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let admin_role = roles["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|role| role["name"] == "ADMIN")
        .and_then(|role| role["id"].as_str())
        .context("no ADMIN role")?
        .to_owned();
    let mut emails = vec![ADMIN.to_owned()];
    for n in 1..ADMINS {
        let email = format!("admin{n}@example.com");
        let created: Value = client
            .post(format!("{url}/api/v1/users"))
            .bearer_auth(&root)
            .json(&json!({"email": email, "name": "Admin", "password": PASSWORD, "email_verified": true}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = created["user"]["id"].as_str().context("no user id")?;
        client
            .post(format!("{url}/api/v1/users/{id}/roles"))
            .bearer_auth(&root)
            .json(&json!({"role_id": admin_role}))
            .send()
            .await?
            .error_for_status()?;
        emails.push(email);
    }
    Ok(emails)
}

/// One connection's share of the load until `until`, in `session`; the session as it ends.
async fn drive(
    url: String,
    session: Session,
    until: Instant,
    seen: Arc<Mutex<Seen>>,
) -> anyhow::Result<Session> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()?;
    let (mut access, mut refresh) = session;
    let mut local = Seen::default();
    let mut turn = 0u64;
    while Instant::now() < until {
        turn += 1;
        let (path, request) = match turn % 10 {
            0 => (
                "POST /api/v1/auth/refresh",
                client
                    .post(format!("{url}/api/v1/auth/refresh"))
                    .json(&json!({"refresh_token": refresh})),
            ),
            1 => (
                "POST /api/v1/jobs",
                client
                    .post(format!("{url}/api/v1/jobs"))
                    .bearer_auth(&access)
                    .json(&json!({"type": "purge_expired", "payload": {}})),
            ),
            2 | 3 => (
                "GET /api/v1/users",
                client
                    .get(format!("{url}/api/v1/users?limit=20"))
                    .bearer_auth(&access),
            ),
            _ => (
                "GET /api/v1/auth/profile",
                client
                    .get(format!("{url}/api/v1/auth/profile"))
                    .bearer_auth(&access),
            ),
        };
        let started = Instant::now();
        let outcome = request.send().await;
        let elapsed = started.elapsed();
        match outcome {
            Ok(response) if response.status().is_success() => {
                if path == "POST /api/v1/auth/refresh" {
                    let pair: Value = response.json().await?;
                    access = pair["access_token"].as_str().unwrap_or_default().to_owned();
                    refresh = pair["refresh_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                }
                local.latencies.entry(path).or_default().push(elapsed);
            }
            Ok(response) => {
                *local
                    .errors
                    .entry(format!("{path}: {}", response.status()))
                    .or_default() += 1;
            }
            Err(error) => *local.errors.entry(format!("{path}: {error}")).or_default() += 1,
        }
    }
    let mut all = seen.lock().await;
    for (path, latencies) in local.latencies {
        all.latencies.entry(path).or_default().extend(latencies);
    }
    for (kind, count) in local.errors {
        *all.errors.entry(kind).or_default() += count;
    }
    Ok((access, refresh))
}

fn millis(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let server = Server::start(&data).await?;
    let seen = Arc::new(Mutex::new(Seen::default()));

    let client = reqwest::Client::new();
    let emails = administrators(&client, &server).await?;
    let mut sessions = Vec::with_capacity(CONNECTIONS);
    for connection in 0..CONNECTIONS {
        sessions.push(server.login(&client, &emails[connection % ADMINS]).await?);
    }

    let warm_until = Instant::now() + WARM_UP;
    let warm: Vec<_> = sessions
        .into_iter()
        .map(|session| {
            let url = server.url.clone();
            tokio::spawn(drive(url, session, warm_until, Arc::new(Mutex::default())))
        })
        .collect();
    let mut sessions = Vec::with_capacity(CONNECTIONS);
    for task in warm {
        sessions.push(task.await??);
    }
    let rss_start = server.rss_mb()?;
    let data_start = data_figures(&data)?;

    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|session| tokio::spawn(drive(server.url.clone(), session, until, seen.clone())))
        .collect();
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Let the event runtime finish the jobs the load created before the last look.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_end = server.rss_mb()?;
    let data_end = data_figures(&data)?;

    let mut seen = seen.lock().await;
    let total: usize = seen.latencies.values().map(Vec::len).sum();
    let errors: usize = seen.errors.values().sum();
    println!(
        "soak: {CONNECTIONS} connections for {seconds} s against the local system (release build)"
    );
    println!(
        "{total} requests answered with success, {:.0} req/s; {errors} errors",
        total as f64 / elapsed
    );
    println!("| path | requests | p50 | p99 |");
    println!("|---|---|---|---|");
    for (path, latencies) in &mut seen.latencies {
        latencies.sort();
        println!(
            "| {path} | {} | {:.2} ms | {:.2} ms |",
            latencies.len(),
            millis(latencies, 0.5),
            millis(latencies, 0.99)
        );
    }
    for (kind, count) in &seen.errors {
        println!("error: {kind} × {count}");
    }
    println!("server RSS: {rss_start:.1} MB after the warm-up, {rss_end:.1} MB at the end");
    println!("data at the start: {data_start}");
    println!("data at the end:   {data_end}");
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    Ok(())
}
