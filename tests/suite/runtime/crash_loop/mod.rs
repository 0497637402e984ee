//! The crash loop: the local system under a mixed load (registrations, logins, refreshes, job
//! creations, avatar uploads, an administrator's changes), killed with SIGKILL at a random
//! moment and restarted on the same data, again and again. Then every request that got a
//! success answer must be reflected, every acknowledged job final, and every event delivered
//! once in effect (one verification mail per registration, one welcome mail per created user).
//!
//! Job creations that got no answer are sent again with their idempotency key after the last
//! restart: each creation must come to one job, however often it was sent.
//!
//! `CRASH_LOOP_CYCLES` (10) kills, each after a load of a random length up to
//! `CRASH_LOOP_SECONDS` (2) seconds; `CRASH_LOOP_SEED` replays a run's kill moments.

mod check;
mod load;

use std::io::Cursor;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use image::{ImageFormat, RgbImage};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use self::load::{Answer, Call, Ledger, Load, PASSWORD, Shared, call, fresh_client, note};
use crate::runtime::crash::{LOG, LocalProcess, free_port};

const ADMIN: &str = "root@example.com";
const ADMIN_PASSWORD: &str = "the administrator's passphrase";

/// Pooled users who log in and refresh, and who upload avatars.
const SESSION_USERS: usize = 6;
const UPLOADERS: usize = 3;

/// How long the restarted system gets to finish what the kills left: a message a killed
/// process had received stays hidden for the queue's visibility timeout (30 s) first.
const DRAIN: Duration = Duration::from_secs(120);

/// How long a retry waits for a key a killed delivery holds: its deadline is 30 s.
const RETRY: Duration = Duration::from_secs(45);

/// splitmix64: a few lines, and the same moments for the same seed.
struct Moments(u64);

impl Moments {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A moment between a quarter of `max` and `max`.
    fn within(&mut self, max: Duration) -> Duration {
        let max = u64::try_from(max.as_millis()).unwrap_or(u64::MAX).max(4);
        Duration::from_millis(max / 4 + self.next() % (max - max / 4))
    }
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={value:?} is not a number")),
        Err(_) => Ok(default),
    }
}

fn png() -> anyhow::Result<Vec<u8>> {
    let pixels = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut bytes = Vec::new();
    pixels.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)?;
    Ok(bytes)
}

/// An answer that must come (the system is up and nothing kills it meanwhile).
async fn expect(
    client: &reqwest::Client,
    base: &str,
    request: Call<'_>,
    body: Option<Value>,
    status: StatusCode,
) -> anyhow::Result<Value> {
    match call(client, base, request, body).await {
        Answer::Got(got, body) if got == status => Ok(body),
        Answer::Got(got, body) => bail!("{} {}: {got} {body}", request.method, request.path),
        Answer::Lost => bail!("{} {}: no answer", request.method, request.path),
    }
}

async fn admin_token(base: &str) -> anyhow::Result<String> {
    let login = Call {
        method: &Method::POST,
        path: "/api/v1/auth/login",
        token: None,
        key: None,
    };
    let body = json!({"email": ADMIN, "password": ADMIN_PASSWORD});
    let answer = expect(&fresh_client()?, base, login, Some(body), StatusCode::OK).await?;
    answer["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("a login without an access token")
}

/// Verified users for the session and upload clients, made before the first kill.
async fn pool(
    base: &str,
    admin: &str,
    run: &str,
    ledger: &Shared,
) -> anyhow::Result<Vec<(String, String)>> {
    let client = fresh_client()?;
    let mut users = Vec::new();
    for n in 0..SESSION_USERS + UPLOADERS {
        let email = format!("pool-{run}-{n}@example.com");
        let body = json!({
            "email": email, "name": "Pooled", "password": PASSWORD, "email_verified": true,
        });
        let post = Call {
            method: &Method::POST,
            path: "/api/v1/users",
            token: Some(admin),
            key: None,
        };
        let answer = expect(&client, base, post, Some(body), StatusCode::CREATED).await?;
        let id = answer["user"]["id"]
            .as_str()
            .context("a user without an id")?
            .to_owned();
        note(ledger, |l| l.created.push((email.clone(), id.clone())));
        users.push((email, id));
    }
    Ok(users)
}

async fn moderator_role(base: &str, admin: &str) -> anyhow::Result<String> {
    let get = Call {
        method: &Method::GET,
        path: "/api/v1/roles?limit=100",
        token: Some(admin),
        key: None,
    };
    let roles = expect(&fresh_client()?, base, get, None, StatusCode::OK).await?;
    roles["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|role| role["name"] == "MODERATOR")
        .and_then(|role| role["id"].as_str())
        .map(str::to_owned)
        .context("no MODERATOR role")
}

#[tokio::test]
// The suite prints its seed, each kill's moment, and what it acknowledged and found.
#[allow(clippy::print_stdout)]
async fn the_local_system_keeps_every_acknowledged_request_across_ten_kills() -> anyhow::Result<()>
{
    let cycles: u32 = setting("CRASH_LOOP_CYCLES", 10)?;
    let seconds: f64 = setting("CRASH_LOOP_SECONDS", 2.0)?;
    let seed: u64 = match std::env::var("CRASH_LOOP_SEED") {
        Ok(seed) => seed.parse().context("CRASH_LOOP_SEED")?,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos() as u64,
    };
    println!("crash loop: seed {seed} (CRASH_LOOP_SEED={seed} replays its kill moments)");
    let mut moments = Moments(seed);
    let max_load = Duration::from_secs_f64(seconds);

    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("BOOTSTRAP_ADMIN_EMAIL", ADMIN),
        ("BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD),
    ];
    let started = Instant::now();
    let mut system = LocalProcess::start_with(dir.path(), port, &env).await?;

    let ledger: Shared = Arc::new(Mutex::new(Ledger::default()));
    let run = format!("{seed:x}");
    let admin = admin_token(&base).await?;
    let moderator = moderator_role(&base, &admin).await?;
    let users = pool(&base, &admin, &run, &ledger).await?;
    let (session_users, uploaders) = users.split_at(SESSION_USERS);
    // Two session clients, each with users of its own: a session is refreshed by one client.
    let (odd, even): (Vec<_>, Vec<_>) = session_users
        .iter()
        .map(|(email, _)| email.clone())
        .enumerate()
        .partition(|(i, _)| i % 2 == 1);
    let halves = [odd, even].map(|half| half.into_iter().map(|(_, u)| u).collect::<Vec<_>>());
    let image = Arc::new(png()?);
    let counter = Arc::new(AtomicU32::new(0));

    for cycle in 1..=cycles {
        let load = Load {
            base: base.clone(),
            admin: admin_token(&base).await?,
            moderator_role: moderator.clone(),
            run: run.clone(),
            ledger: ledger.clone(),
            counter: counter.clone(),
        };
        let mut clients = JoinSet::new();
        clients.spawn(load::register(load.clone()));
        clients.spawn(load::register(load.clone()));
        for half in &halves {
            clients.spawn(load::sessions(load.clone(), half.clone()));
        }
        clients.spawn(load::jobs(load.clone()));
        clients.spawn(load::admin_changes(load.clone()));
        clients.spawn(load::avatars(
            load.clone(),
            uploaders.to_vec(),
            image.clone(),
        ));

        // The random moment: the clients are mid-request, the pipeline mid-batch.
        let moment = moments.within(max_load);
        tokio::time::sleep(moment).await;
        system.kill()?;
        while let Some(client) = clients.join_next().await {
            client.context("a client task panicked")??;
        }
        println!("crash loop: cycle {cycle}: killed after {moment:?}");
        system = LocalProcess::start_with(dir.path(), port, &env).await?;
    }

    let admin = admin_token(&base).await?;
    let last = Load {
        base: base.clone(),
        admin: admin.clone(),
        moderator_role: moderator.clone(),
        run: run.clone(),
        ledger: ledger.clone(),
        counter: counter.clone(),
    };
    let retried = load::retry_lost_jobs(&last, RETRY).await?;
    let waited = check::drained(dir.path(), DRAIN).await?;
    // Every client task has ended: the ledger is the test's alone now.
    let ledger = std::mem::take(
        &mut *ledger
            .lock()
            .map_err(|_| anyhow::anyhow!("a client task panicked"))?,
    );
    let found = check::check(&base, &admin, &ledger, &retried, dir.path()).await?;
    let dead_letters = check::dead_letters(dir.path())?;
    let (events, relayed) = check::outbox(dir.path())?;
    println!(
        "crash loop: {cycles} kills; the pipeline drained {waited:?} after the retries; {:?} in all",
        started.elapsed()
    );
    for figure in &found.figures {
        println!("crash loop: {figure}");
    }
    println!(
        "crash loop: outbox events {events}, relayed {relayed}; dead letters {dead_letters:?}; violations {}",
        found.violations.len() + usize::from(events != relayed)
    );
    drop(system);
    let mut violations = found.violations;
    if events != relayed {
        violations.push(format!(
            "{} of {events} outbox events were never relayed",
            events - relayed
        ));
    }
    if dead_letters.get("events-dlq").is_some_and(|n| *n > 0) {
        violations.push(format!("events were dead-lettered: {dead_letters:?}"));
    }
    if !violations.is_empty() {
        let log = std::fs::read_to_string(dir.path().join(LOG)).unwrap_or_default();
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("ERROR"))
            .take(20)
            .collect();
        // Kept for a post-mortem.
        let kept = dir.keep();
        bail!(
            "{} violations (seed {seed}; the data is kept in {}):\n{}\nthe system's first errors:\n{}",
            violations.len(),
            kept.display(),
            violations.join("\n"),
            errors.join("\n")
        );
    }
    Ok(())
}
