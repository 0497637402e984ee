//! Login time against one argon2id verification, and store round trips per auth endpoint.
//!
//! First, N logins through the whole HTTP router in-process, each beside one `verify_password`
//! of the account's stored hash, and N logins of unknown addresses, each beside one
//! `verify_dummy`, interleaved so that both sides meet the same machine load. Second, one
//! successful request to every endpoint of the auth table, on its own router as its Lambda main
//! mounts it, over a store that records every call: calls by method, and round trips in sequence
//! (calls issued together, overlapping in time, count as one). Third, from those requests, the
//! cost of a million of each on AWS and of a typical mix (`support/cost.rs` has the model).
//!
//! `cargo bench -p local-system --bench auth -- [N]` (default: 30 logins of each kind, and 4N mail
//! requests).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use chrono::{DateTime, Utc};
use functions::auth::guard::{Access, Authenticator};
use functions::http::app;
use functions::wiring::{self, Built, FUNCTIONS, Function};
use http::Request;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http_body_util::BodyExt;
use infra::compose::{Backend, LocalBackend};
use infra::config::Settings;
use serde_json::{Value, json};
use shared::accounts::login::SignedIn;
use shared::accounts::{ClientInfo, hashing};
use shared::auth::access_token::VerifiedTokens;
use shared::auth::one_time::{self, Purpose};
use shared::auth::password::{PARAMS, Verified, verify_dummy, verify_password};
use shared::auth::session::SessionRepo;
use shared::clock::OsRandom;
use shared::rbac::CachedCatalog;
use shared::store::{Condition, Item, ItemStore, Key, Page, Query, StoreError, Write};
use shared::users::{Email, PasswordHash, UserRepo};
use tower::ServiceExt;
use uuid::Uuid;

mod support;

// As the HTTP packages' binaries allocate (functions/src/bin/identity.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use support::cost::{self, CALL_LATENCY, Memory, TRANSACTION_LATENCY, Units};
use support::{EMAIL, PASSWORD, account, fixture};

/// Iterations (three logins each) per fresh backend: with the warm-up login, 46 attempts, under
/// the 50 per 15 minutes that every in-process request shares (none carries a client address).
const ITERATIONS_PER_BACKEND: usize = 15;

/// A password that is not [`PASSWORD`].
const WRONG: &str = "not the password at all";

/// Accounts per fresh backend for the mail requests: each asks for a reset and a verification
/// mail beside an unknown address doing the same, 16 requests, under the 20 mails an hour
/// that in-process requests share, and 2 per address, under its 5.
const MAIL_ACCOUNTS_PER_BACKEND: usize = 4;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let iterations = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(30)
        .max(1);
    login_time(iterations).await?;
    println!();
    // A mail request is two counters and one commit, well under a millisecond, so the disk's
    // jitter is most of its time: four times the samples steady the medians.
    mail_request_time(iterations * 4).await?;
    println!();
    round_trips().await
}

async fn login_time(iterations: usize) -> anyhow::Result<()> {
    // The dummy hash is made on first use, which no measured login should pay for.
    verify_dummy(PASSWORD);
    let (mut verify, mut known, mut dummy, mut unknown) = (vec![], vec![], vec![], vec![]);
    let (mut wrong, mut pooled) = (vec![], vec![]);
    let mut backends = 0;
    while verify.len() < iterations {
        let (backend, user, _dir) = fixture().await?;
        backends += 1;
        let app = app(
            wiring::router(&backend, FUNCTIONS)?,
            &wiring::routes(FUNCTIONS),
        );
        let phc = user.password_hash.0;
        // Reads the signing keys and warms the store up.
        login_request(&app, EMAIL, PASSWORD, 200).await?;
        for _ in 0..ITERATIONS_PER_BACKEND.min(iterations - verify.len()) {
            let started = Instant::now();
            let verified = verify_password(PASSWORD, &phc)?;
            verify.push(started.elapsed());
            anyhow::ensure!(matches!(verified, Verified::Match { .. }));
            // The same verification as a login makes it (`shared::blocking`).
            let stored = PasswordHash(phc.clone());
            let started = Instant::now();
            let verified = hashing::verify(PASSWORD, &stored).await?;
            pooled.push(started.elapsed());
            anyhow::ensure!(matches!(verified, Verified::Match { .. }));
            wrong.push(login_request(&app, EMAIL, WRONG, 401).await?);
            // The right password clears the account's failures: the next wrong one is not
            // throttled.
            known.push(login_request(&app, EMAIL, PASSWORD, 200).await?);
            let started = Instant::now();
            verify_dummy(PASSWORD);
            dummy.push(started.elapsed());
            let nobody = format!("nobody{}@example.com", unknown.len());
            unknown.push(login_request(&app, &nobody, PASSWORD, 401).await?);
        }
    }
    let (m, t, p) = (PARAMS.m_cost(), PARAMS.t_cost(), PARAMS.p_cost());
    println!(
        "Login time against one argon2id verification (m={m} KiB, t={t}, p={p}), {iterations} of each, interleaved.\n\
         A login is POST /api/v1/auth/login through the whole router in-process (http::app over the router of every function), local store, response body read.\n\
         Throttles: a fresh backend (temp dir) every {ITERATIONS_PER_BACKEND} iterations ({backends} in all), so no batch reaches the 50 attempts per 15 min that in-process requests share (no client address); every unknown address differs, so the per-account failure throttle never applies.\n\
         {:<44} {:>9} {:>9} {:>9}",
        "", "min", "median", "p95"
    );
    for (what, times) in [
        ("verify_password alone", &mut verify),
        ("verify_password as a login runs it", &mut pooled),
        ("login, known address, right password (200)", &mut known),
        ("login, known address, wrong password (401)", &mut wrong),
        ("verify_dummy alone", &mut dummy),
        ("login, unknown address (401)", &mut unknown),
    ] {
        times.sort();
        let [min, median, p95] = [0.0, 0.5, 0.95].map(|q| ms(at(times, q)));
        println!("{what:<44} {min:>6.2} ms {median:>6.2} ms {p95:>6.2} ms");
    }
    let ratio = |a: &[Duration], b: &[Duration]| ms(at(a, 0.5)) / ms(at(b, 0.5));
    let (login, nobody) = (ratio(&known, &verify), ratio(&unknown, &dummy));
    let same = ratio(&unknown, &wrong);
    println!(
        "login / verify_password, medians: {login:.3}× (budget ≤ 1.10×: {})\n\
         unknown-address login / verify_dummy, medians: {nobody:.3}× (budget ≤ 1.10×: {})\n\
         unknown-address login / known address with a wrong password, medians: {same:.3}× (goal 0.9–1.1: {})",
        verdict(login <= 1.10),
        verdict(nobody <= 1.10),
        verdict((0.9..=1.1).contains(&same)),
    );
    Ok(())
}

/// Asking for a reset or a verification mail by address, for an account's address and for an
/// unknown one: the request must not tell them apart by its time.
async fn mail_request_time(iterations: usize) -> anyhow::Result<()> {
    let endpoints = [
        ("reset-password", "/api/v1/auth/reset-password"),
        ("resend-verification", "/api/v1/auth/resend-verification"),
    ];
    let mut times: Vec<[Vec<Duration>; 2]> = endpoints.iter().map(|_| Default::default()).collect();
    let mut done = 0;
    while done < iterations {
        let (backend, _, _dir) = fixture().await?;
        let accounts = backend.accounts()?;
        let app = app(
            wiring::router(&backend, FUNCTIONS)?,
            &wiring::routes(FUNCTIONS),
        );
        let batch = MAIL_ACCOUNTS_PER_BACKEND.min(iterations - done);
        // Created before any request is timed, so none pays for what a creation leaves behind.
        for i in done..done + batch {
            let known = format!("known{i}@example.com");
            accounts.create(account(&known, PASSWORD, false)?).await?;
        }
        for _ in 0..batch {
            let known = format!("known{done}@example.com");
            let unknown = format!("unknown{done}@example.com");
            for ((_, path), [known_times, unknown_times]) in endpoints.iter().zip(&mut times) {
                let mut pair = [(&known, &mut *known_times), (&unknown, unknown_times)];
                // Each goes first half the time.
                if done % 2 == 1 {
                    pair.reverse();
                }
                for (email, into) in pair {
                    let started = Instant::now();
                    let (status, body) =
                        send(&app, "POST", path, None, json!({ "email": email })).await?;
                    into.push(started.elapsed());
                    anyhow::ensure!(status == 202, "{path} answered {status}: {body}");
                }
            }
            done += 1;
        }
    }
    println!(
        "Mails asked for by address, {iterations} of each, interleaved: an account's address (unverified) and an unknown one, through the whole router in-process, local store.
         {:<44} {:>9} {:>9} {:>11}",
        "", "known", "unknown", "unknown/known"
    );
    for ((name, _), [known, unknown]) in endpoints.iter().zip(&mut times) {
        known.sort();
        unknown.sort();
        let (k, u) = (ms(at(known, 0.5)), ms(at(unknown, 0.5)));
        let ratio = u / k;
        println!(
            "{:<44} {k:>6.3} ms {u:>6.3} ms {ratio:>9.3}× (goal 0.9–1.1: {})",
            format!("POST /auth/{name}, median"),
            verdict((0.9..=1.1).contains(&ratio))
        );
    }
    Ok(())
}

async fn login_request(
    app: &Router,
    email: &str,
    password: &str,
    expect: u16,
) -> anyhow::Result<Duration> {
    let body = json!({ "email": email, "password": password });
    let started = Instant::now();
    let (status, body) = send(app, "POST", "/api/v1/auth/login", None, body).await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(status == expect, "login answered {status}: {body}");
    Ok(elapsed)
}

fn at(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(holds: bool) -> &'static str {
    if holds { "holds" } else { "OVER" }
}

/// Sends a request with a JSON body (none for `Value::Null`) and, if given, a bearer token.
async fn send(
    app: &Router,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = bearer {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Value::Null => Body::empty(),
        body => {
            request = request.header(CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
    };
    let response = app.clone().oneshot(request.body(body)?).await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    match bytes.is_empty() {
        true => Ok((status, Value::Null)),
        false => Ok((status, serde_json::from_slice(&bytes)?)),
    }
}

/// The store methods, in the table's column order.
const METHODS: [&str; 6] = ["get", "put", "delete", "transact", "add", "query"];

#[derive(Debug, Clone, Copy)]
struct Call {
    method: &'static str,
    /// DynamoDB's request units for the call.
    units: Units,
    /// Made by the authorization guard reading the caller, not by the endpoint's use case.
    guard: bool,
    start: Instant,
    end: Instant,
}

/// An item store that passes every call on and records it: method, side, start and end.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ItemStore>,
    guard: bool,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Counting {
    async fn record<T>(
        &self,
        method: &'static str,
        call: impl Future<Output = T>,
        units: impl FnOnce(&T) -> Units,
    ) -> T {
        let start = Instant::now();
        // A local call runs to its end the first time it is polled (nothing to wait on); this
        // yield lets calls issued together, as `join!` issues them, all start before any runs,
        // as they would overlap on DynamoDB.
        tokio::task::yield_now().await;
        let result = call.await;
        let (guard, end) = (self.guard, Instant::now());
        let call = Call {
            units: units(&result),
            method,
            guard,
            start,
            end,
        };
        self.calls.lock().unwrap().push(call);
        result
    }
}

#[async_trait]
impl ItemStore for Counting {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let units =
            |r: &Result<Option<Item>, _>| Units::get(r.as_ref().ok().and_then(Option::as_ref));
        self.record("get", self.inner.get(key), units).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        let units = Units::put(&item);
        self.record("put", self.inner.put(item, condition), |_| units)
            .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError> {
        let units = |_: &_| Units::small_write();
        self.record("delete", self.inner.delete(key, condition), units)
            .await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let units = Units::transaction(&writes);
        self.record("transact", self.inner.transact(writes), |_| units)
            .await
    }

    async fn transact_fail_safe(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let units = Units::transaction(&writes);
        let call = self.inner.transact_fail_safe(writes);
        self.record("transact", call, |_| units).await
    }

    async fn add(
        &self,
        key: &Key,
        attribute: &str,
        delta: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError> {
        let call = self.inner.add(key, attribute, delta, expires_at);
        self.record("add", call, |_| Units::small_write()).await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let on_index = query.index.is_some();
        let units =
            |r: &Result<Page, _>| Units::query(on_index, r.as_ref().map_or(&[][..], |p| &p.items));
        self.record("query", self.inner.query(query), units).await
    }

    async fn purge_expired(&self, limit: usize) -> Result<usize, StoreError> {
        let units = |_: &_| Units::default();
        self.record("purge", self.inner.purge_expired(limit), units)
            .await
    }
}

/// The calls in rounds: calls issued together all start before any of them ends (each
/// yields first, `Counting::record`), so a call that starts before the round's first end
/// joins it; one that starts later waited for a call of the round.
fn rounds(calls: &[Call]) -> Vec<Vec<Call>> {
    let mut calls = calls.to_vec();
    calls.sort_by_key(|c| c.start);
    let mut rounds: Vec<(Instant, Vec<Call>)> = Vec::new();
    for call in calls {
        match rounds.last_mut() {
            Some((first_end, round)) if call.start < *first_end => {
                *first_end = (*first_end).min(call.end);
                round.push(call);
            }
            _ => rounds.push((call.end, vec![call])),
        }
    }
    rounds.into_iter().map(|(_, round)| round).collect()
}

/// The time spent waiting on the store in a round: from its first start to its last end.
fn span(round: &[Call]) -> Duration {
    let start = round.iter().map(|c| c.start).min().unwrap();
    round.iter().map(|c| c.end).max().unwrap() - start
}

/// The rounds as `guard:query → add‖query → delete ×3`.
fn sequence(rounds: &[Vec<Call>]) -> String {
    let mut runs: Vec<(String, usize)> = Vec::new();
    for round in rounds {
        let names: Vec<String> = round
            .iter()
            .map(|c| format!("{}{}", if c.guard { "guard:" } else { "" }, c.method))
            .collect();
        let label = names.join("‖");
        match runs.last_mut() {
            Some((last, n)) if *last == label => *n += 1,
            _ => runs.push((label, 1)),
        }
    }
    let runs: Vec<String> = runs
        .into_iter()
        .map(|(label, n)| match n {
            1 => label,
            n => format!("{label} ×{n}"),
        })
        .collect();
    runs.join(" → ")
}

/// A local backend whose store is counted: what the functions are built over.
#[derive(Debug)]
struct Counted<'a> {
    inner: &'a LocalBackend,
    store: Arc<dyn ItemStore>,
}

impl Backend for Counted<'_> {
    fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        Ok(self.store.clone())
    }
    fn jobs_queue(&self) -> anyhow::Result<Arc<dyn shared::queue::Queue>> {
        self.inner.jobs_queue()
    }
    fn events_queue(&self) -> anyhow::Result<Arc<dyn shared::queue::Queue>> {
        self.inner.events_queue()
    }
    fn jobs_dlq(&self) -> anyhow::Result<Arc<dyn shared::queue::Queue>> {
        self.inner.jobs_dlq()
    }
    fn events_dlq(&self) -> anyhow::Result<Arc<dyn shared::queue::Queue>> {
        self.inner.events_dlq()
    }
    fn blobs(&self) -> anyhow::Result<Arc<dyn shared::blob::BlobStore>> {
        self.inner.blobs()
    }
    fn upload_forms(&self) -> anyhow::Result<Arc<dyn shared::blob::UploadForms>> {
        self.inner.upload_forms()
    }
    fn mailer(&self) -> anyhow::Result<Arc<dyn shared::mail::Mailer>> {
        self.inner.mailer()
    }
    fn secrets(&self) -> anyhow::Result<Arc<dyn shared::secrets::Secrets>> {
        self.inner.secrets()
    }
    fn clock(&self) -> Arc<dyn shared::clock::Clock> {
        self.inner.clock()
    }
    fn random(&self) -> Arc<dyn shared::clock::Random> {
        self.inner.random()
    }
    fn settings(&self) -> &Settings {
        self.inner.settings()
    }
}

/// Sends requests to endpoints, each on its own router over the counting store, as a warm
/// function serves them, and keeps their store calls.
struct Meter<'a> {
    calls: Arc<Mutex<Vec<Call>>>,
    /// The local backend, its store counted.
    backend: Counted<'a>,
    authenticator: Authenticator,
    /// The caller's access token, sent to the endpoints that take one.
    bearer: Option<String>,
    /// The `{id}` of a path.
    path_id: Option<Uuid>,
    path_role: Option<Uuid>,
    rows: Vec<Row>,
}

/// One request's figures.
struct Row {
    function: &'static Function,
    /// The request's time in process, store calls included.
    elapsed: Duration,
    status: u16,
    calls: Vec<Call>,
    note: String,
}

impl Meter<'_> {
    /// The function's router, as its Lambda main builds it.
    fn router(&self, function: &Function) -> anyhow::Result<Router> {
        let authenticator = self.authenticator.clone();
        match function.build(&self.backend, || Ok(authenticator))? {
            Built::Http(router) => Ok(router),
            other => anyhow::bail!("{} is not an HTTP function: {other:?}", function.name),
        }
    }

    async fn send(&mut self, function: &'static Function, body: Value) -> anyhow::Result<()> {
        let route = function.route().context("not an HTTP function")?;
        let mut path = match self.path_id {
            Some(id) => route.path.replace("{id}", &id.to_string()),
            None => route.path.to_owned(),
        };
        if let Some(role) = self.path_role {
            path = path.replace("{role_id}", &role.to_string());
        }
        let bearer = self
            .bearer
            .as_deref()
            .filter(|_| matches!(route.access, Access::Protected(_)));
        let app = app(self.router(function)?, &[route]);
        // Warm, as after a function's first request: the keys and the catalog are cached.
        self.authenticator.keys.get().await?;
        self.authenticator.catalog.get().await?;
        self.calls.lock().unwrap().clear();
        let started = Instant::now();
        let (status, body) = send(&app, route.method, &path, bearer, body).await?;
        let elapsed = started.elapsed();
        let calls = std::mem::take(&mut *self.calls.lock().unwrap());
        anyhow::ensure!(status < 300, "{path} answered {status}: {body}");
        let note = String::new();
        self.rows.push(Row {
            function,
            elapsed,
            status,
            calls,
            note,
        });
        Ok(())
    }

    fn note(&mut self, note: impl Into<String>) {
        if let Some(row) = self.rows.last_mut() {
            row.note = note.into();
        }
    }

    /// Each request as the cost model takes it.
    fn requests(&self) -> Vec<cost::Request> {
        self.rows
            .iter()
            .map(|row| {
                let rounds = rounds(&row.calls);
                let store: Duration = rounds.iter().map(|r| span(r)).sum();
                let mut units = Units::default();
                for call in &row.calls {
                    units += call.units;
                }
                let latency = |round: &Vec<Call>| match round.iter().any(|c| c.method == "transact")
                {
                    true => TRANSACTION_LATENCY,
                    false => CALL_LATENCY,
                };
                cost::Request {
                    function: row.function.name,
                    compute: row.elapsed.saturating_sub(store),
                    rounds: rounds.iter().map(latency).collect(),
                    units,
                }
            })
            .collect()
    }

    fn print(&self) {
        println!(
            "Store calls per auth endpoint: one successful request each, on the endpoint's own router (as its Lambda main mounts it), warm (signing keys and role catalog cached), over a local store recording every call.\n\
             guard = calls of the authorization guard reading the caller; seq = round trips in sequence, calls issued together (overlapping in time) counting as one; store ms = time spent waiting on them (local SQLite store, not DynamoDB); budgets (DESIGN.md) are on round trips in sequence, besides hashing."
        );
        print!(
            "{:<29} {:>6} {:>5} {:>5}",
            "endpoint", "status", "calls", "guard"
        );
        for method in METHODS {
            print!(" {method:>8}");
        }
        println!(" {:>3} {:>8}  {:<10} sequence", "seq", "store ms", "budget");
        for row in &self.rows {
            let (calls, rounds) = (&row.calls, rounds(&row.calls));
            let route = row.function.route().unwrap();
            let endpoint = format!("{} {}", route.method, &route.path[7..]);
            let guard = calls.iter().filter(|c| c.guard).count();
            print!(
                "{endpoint:<29} {:>6} {:>5} {guard:>5}",
                row.status,
                calls.len()
            );
            for method in METHODS {
                let n = calls.iter().filter(|c| c.method == method).count();
                print!(" {n:>8}");
            }
            let budget = match row.function.name {
                "login" | "refresh" => Some(3),
                "profile" => Some(1),
                _ => None,
            };
            let seq = rounds.len();
            let store_ms: f64 = rounds.iter().map(|r| ms(span(r))).sum();
            let budget = budget.map_or(String::new(), |b| format!("≤ {b} {}", verdict(seq <= b)));
            let note = match row.note.as_str() {
                "" => String::new(),
                note => format!("  ({note})"),
            };
            let sequence = sequence(&rounds);
            println!(" {seq:>3} {store_ms:>8.2}  {budget:<10} {sequence}{note}");
        }
    }
}

async fn round_trips() -> anyhow::Result<()> {
    let (backend, user, _dir) = fixture().await?;
    let (backend, user) = (&backend, user.id);
    let store = backend.store()?;
    // Uncounted: what sets each request up (sessions, mailed tokens).
    let setup = backend.accounts()?;
    let setup_issuer = backend.token_issuer()?;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let counted = |guard| -> Arc<dyn ItemStore> {
        let (inner, calls) = (store.clone(), calls.clone());
        Arc::new(Counting {
            inner,
            guard,
            calls,
        })
    };
    let guard_store = counted(true);
    let authenticator = Authenticator {
        tokens: backend.access_tokens()?,
        keys: backend.signing_keys()?,
        users: UserRepo::new(guard_store.clone()),
        catalog: CachedCatalog::new(guard_store),
        clock: backend.clock(),
        verified: VerifiedTokens::new(),
    };
    let mut meter = Meter {
        backend: Counted {
            inner: backend,
            store: counted(false),
        },
        authenticator,
        calls,
        bearer: None,
        path_id: None,
        path_role: None,
        rows: Vec::new(),
    };
    let mut password = PASSWORD.to_owned();
    // A new session of the user, whose access token the next requests carry.
    let sign_in = async |password: &str| -> anyhow::Result<SignedIn> {
        let client = ClientInfo::default();
        Ok(setup.login(&setup_issuer, EMAIL, password, &client).await?)
    };
    let live_sessions = async || -> anyhow::Result<String> {
        let n = SessionRepo::new(store.as_ref()).list(user).await?.len();
        Ok(format!("live sessions of the user before: {n}"))
    };
    let mint = async |purpose, user| -> anyhow::Result<String> {
        let now = backend.clock().now();
        let user = UserRepo::new(store.clone())
            .get(user)
            .await?
            .context("no such user")?;
        let token = one_time::issue(store.as_ref(), &OsRandom, purpose, &user, now).await?;
        Ok(token.expose().to_owned())
    };

    let grace = "grace@example.com";
    let body = json!({ "email": grace, "name": "Grace", "password": "a fine long passphrase" });
    meter.send(&wiring::REGISTER, body).await?;
    let grace = UserRepo::new(store.clone())
        .id_by_email(&Email::parse(grace)?)
        .await?;
    let token = mint(Purpose::VerifyEmail, grace.context("registered")?).await?;
    meter
        .send(&wiring::VERIFY_EMAIL, json!({ "token": token }))
        .await?;
    let lin = "lin@example.com";
    setup.create(account(lin, PASSWORD, false)?).await?;
    meter
        .send(&wiring::RESEND_VERIFICATION, json!({ "email": lin }))
        .await?;
    meter.note("an unverified account: the mail is sent");
    let body = json!({ "email": EMAIL, "password": password });
    meter.send(&wiring::LOGIN, body).await?;
    let refresh_token = sign_in(&password).await?.refresh.expose().to_owned();
    let body = json!({ "refresh_token": refresh_token });
    meter.send(&wiring::REFRESH, body).await?;

    let s = sign_in(&password).await?;
    meter.bearer = Some(s.access.token.clone());
    let body = json!({ "refresh_token": s.refresh.expose() });
    meter.send(&wiring::LOGOUT, body).await?;
    meter.note("with the refresh token");
    meter.bearer = Some(sign_in(&password).await?.access.token);
    let note = live_sessions().await?;
    meter.send(&wiring::LOGOUT_ALL, Value::Null).await?;
    meter.note(note);

    meter
        .send(&wiring::RESET_PASSWORD, json!({ "email": EMAIL }))
        .await?;
    meter.note("a known address: the mail is sent");
    sign_in(&password).await?;
    let note = live_sessions().await?;
    let token = mint(Purpose::ResetPassword, user).await?;
    password = "a brand new passphrase".into();
    let body = json!({ "token": token, "new_password": password });
    meter.send(&wiring::CONFIRM_RESET, body).await?;
    meter.note(note);

    sign_in(&password).await?;
    meter.bearer = Some(sign_in(&password).await?.access.token);
    let note = live_sessions().await?;
    let new_password = "yet another passphrase";
    let body = json!({ "current_password": password, "new_password": new_password });
    meter.send(&wiring::CHANGE_PASSWORD, body).await?;
    meter.note(note);
    password = new_password.into();

    meter.bearer = Some(sign_in(&password).await?.access.token);
    meter.send(&wiring::PROFILE, Value::Null).await?;
    meter.send(&wiring::PERMISSIONS, Value::Null).await?;
    let note = live_sessions().await?;
    meter.send(&wiring::SESSIONS, Value::Null).await?;
    meter.note(note);
    meter.path_id = Some(sign_in(&password).await?.session_id);
    meter.send(&wiring::DELETE_SESSION, Value::Null).await?;
    meter.note("another of the caller's sessions");

    // The users, RBAC and jobs API, as an administrator acting on another user (Grace).
    let grace = grace.context("registered")?;
    let moderator = shared::rbac::model::seeded_role_id(shared::rbac::seed::MODERATOR);
    meter.bearer = Some(sign_in(&password).await?.access.token);
    meter.path_id = None;
    let body = json!({ "email": "hopper@example.com", "name": "Grace Hopper", "password": "a fine long passphrase", "email_verified": true });
    meter.send(&wiring::CREATE_USER, body).await?;
    meter.send(&wiring::LIST_USERS, Value::Null).await?;
    meter.note("limit 20, every status: 16 lanes");
    meter.path_id = Some(grace);
    meter.send(&wiring::GET_USER, Value::Null).await?;
    meter.note("another user");
    meter
        .send(&wiring::UPDATE_USER, json!({ "name": "Grace B" }))
        .await?;
    meter.note("another user's name");
    meter.send(&wiring::USER_ROLES, Value::Null).await?;
    meter.note("another user");
    meter
        .send(&wiring::ASSIGN_ROLE, json!({ "role_id": moderator }))
        .await?;
    meter.path_role = Some(moderator);
    meter.send(&wiring::REVOKE_ROLE, Value::Null).await?;
    meter.path_id = Some(user);
    meter
        .send(
            &wiring::UPLOAD_AVATAR,
            json!({ "content_type": "image/png" }),
        )
        .await?;
    meter.note("the caller's own");
    meter.path_id = None;
    meter.send(&wiring::LIST_ROLES, Value::Null).await?;
    let body = json!({ "name": "SUPPORT", "permission_ids": [] });
    meter.send(&wiring::CREATE_ROLE, body).await?;
    meter.path_id = Some(moderator);
    meter.send(&wiring::GET_ROLE, Value::Null).await?;
    meter
        .send(&wiring::UPDATE_ROLE, json!({ "description": "Moderates" }))
        .await?;
    let grants =
        json!({ "permission_ids": [shared::rbac::model::seeded_permission_id("users:read")] });
    meter.send(&wiring::SET_ROLE_PERMISSIONS, grants).await?;
    meter.path_id = None;
    meter.send(&wiring::LIST_PERMISSIONS, Value::Null).await?;
    let body = json!({ "name": "reports:read" });
    meter.send(&wiring::CREATE_PERMISSION, body).await?;
    meter.path_id = Some(shared::rbac::model::seeded_permission_id("users:read"));
    meter.send(&wiring::GET_PERMISSION, Value::Null).await?;
    meter.path_id = None;
    meter
        .send(&wiring::CREATE_JOB, json!({ "type": "purge_expired" }))
        .await?;
    meter.send(&wiring::LIST_JOBS, Value::Null).await?;
    meter.note("every status: 48 lanes");
    meter.path_id = Some(grace);
    meter.send(&wiring::DELETE_USER, Value::Null).await?;
    meter.note("another user");

    meter.print();
    println!();
    cost::print(&meter.requests(), &Memory::from_template()?);
    Ok(())
}
