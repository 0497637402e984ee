//! The warm path of an HTTP function as Lambda runs it, against an echo handler on the same path.
//!
//! Each endpoint is built as its Lambda main builds it (`build_http_app`: its one route behind
//! the API's middleware, over a local backend), then called through lambda_http's own adapter,
//! in process: the API Gateway event's JSON is parsed into lambda_http's request, the adapter
//! runs the service, and its response is serialised back to JSON, which is every step of an
//! invocation but the Runtime API's HTTP. The echo is a bare route on the same method and path
//! that answers a small JSON body, through the same adapter: the least a function can cost. The
//! same echo behind the API's middleware (request ids, security headers, limits, problem+json,
//! deny by default) shows what the middleware adds; the budget is against the bare echo.
//! Requests to the endpoint and to the echo alternate, so both meet the same machine load.
//!
//! The authenticated reads (profile, a user, a page of users) have a budget in DESIGN.md: at
//! most 2× the echo at p50 and 3× at p99. Login is argon2id and refresh rotates a session in a
//! transaction: their figures are shown, their budgets are elsewhere (the `auth` bench).
//!
//! `cargo bench -p local-system --bench warm_path -- [RUNS]` (default 2000 per read; refresh a
//! quarter of that, login 60).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::routing::on;
use functions::auth::guard::Route;
use functions::wiring::lambda::build_http_app;
use functions::wiring::{self, Function};
use infra::compose::Backend;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent};
use serde_json::{Value, json};
use shared::accounts::ClientInfo;
use shared::auth::session::SessionRepo;
use shared::users::UserRepo;
use tower::{Service, ServiceExt};
use uuid::Uuid;

mod support;

// As the HTTP packages' binaries allocate (functions/src/bin/identity.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use support::server::{ADMIN, Server};
use support::{EMAIL, PASSWORD, account, fixture};

/// Users besides the administrator, so a page of 20 is full and a user read is of another.
const OTHER_USERS: usize = 40;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(2000)
        .max(10);
    let (backend, admin, _dir) = fixture().await?;
    let accounts = backend.accounts()?;
    let mut other = None;
    for i in 0..OTHER_USERS {
        let user = accounts
            .create(account(&format!("user{i}@example.com"), PASSWORD, true)?)
            .await?;
        other.get_or_insert(user.id);
    }
    let other = other.context("no other user")?;
    let issuer = backend.token_issuer()?;
    let signed_in = accounts
        .login(&issuer, EMAIL, PASSWORD, &ClientInfo::default())
        .await?;
    let bearer = signed_in.access.token.clone();
    let refresh_token = RefCell::new(signed_in.refresh.expose().to_owned());

    println!(
        "Warm path through lambda_http's adapter, in process: event JSON → request → the function's service → response JSON.\n\
         Each endpoint as its Lambda main builds it, over a local store (SQLite); the echo is a bare route on the same method and path.\n\
         Requests alternate endpoint / echo; {runs} runs per read after 100 warm-up requests each; an administrator with {OTHER_USERS} other users.\n"
    );
    println!(
        "| endpoint | runs | p50 | p99 | echo p50 | echo p99 | echo + middleware p50 | p99 | × echo p50 | × echo p99 | budget (≤ 2× p50, ≤ 3× p99) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");

    let reads = [
        (&wiring::PROFILE, "/api/v1/auth/profile".to_owned(), ""),
        (&wiring::GET_USER, format!("/api/v1/users/{other}"), ""),
        (&wiring::LIST_USERS, "/api/v1/users".to_owned(), "limit=20"),
    ];
    let mut over = false;
    for (function, path, query) in reads {
        let mut bench = Bench::new(&backend, function)?;
        let event = bench.event(&path, query, Some(&bearer), None, 0);
        let figures = bench
            .run(100, runs, |_, _| event.clone(), |_| Ok(()))
            .await?;
        over |= !figures.print(function.name, true);
    }

    let users = UserRepo::new(backend.store()?);
    let alone = caller_query(&users, admin.id, runs).await?;

    let mut bench = Bench::new(&backend, &wiring::REFRESH)?;
    let figures = bench
        .run(
            1,
            (runs / 4).max(10),
            |bench, i| {
                let body = json!({ "refresh_token": *refresh_token.borrow() }).to_string();
                bench.event("/api/v1/auth/refresh", "", None, Some(body), i)
            },
            |response| {
                let body: Value = serde_json::from_str(
                    response["body"]
                        .as_str()
                        .context("refresh answered no body")?,
                )?;
                *refresh_token.borrow_mut() = body["refresh_token"]
                    .as_str()
                    .context("refresh answered no refresh token")?
                    .to_owned();
                Ok(())
            },
        )
        .await?;
    figures.print("refresh", false);

    let mut bench = Bench::new(&backend, &wiring::LOGIN)?;
    let body = json!({ "email": EMAIL, "password": PASSWORD }).to_string();
    let figures = bench
        .run(
            1,
            60,
            // A client address per login: the per-address throttle would refuse the 51st.
            |bench, i| bench.event("/api/v1/auth/login", "", None, Some(body.clone()), i),
            |_| Ok(()),
        )
        .await?;
    figures.print("login", false);

    let sessions = SessionRepo::new(backend.store()?.as_ref())
        .list(admin.id)
        .await?
        .len();
    let after = caller_query(&users, admin.id, runs).await?;
    println!(
        "\nthe guard's caller query alone (the user's partition: user, assignments, sessions), local store:\n\
         with 1 session: p50 {}, p99 {}; after the logins above, {sessions} sessions: p50 {}, p99 {}",
        micros(alone.0),
        micros(alone.1),
        micros(after.0),
        micros(after.1),
    );
    println!(
        "authenticated reads within budget in process: {}",
        if over { "NO" } else { "yes" }
    );

    let http = over_http(runs).await?;
    println!(
        "authenticated read within budget over HTTP: {}",
        if http { "yes" } else { "NO" }
    );
    Ok(())
}

/// The warm path as a client meets it on the local system: the `local` binary in its own process,
/// one keep-alive connection (as `wrk -t1 -c1` holds one), alternating the profile read and
/// `/health`, a public route through the same server and middleware. Returns whether the profile
/// is within the budget against `/health`.
async fn over_http(runs: usize) -> anyhow::Result<bool> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&dir.path().join("data")).await?;
    let (bearer, _) = server.login(&reqwest::Client::new(), ADMIN).await?;
    let mut connection = Connection::open(server.port)?;
    let (mut profile, mut health) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for i in 0..500 + runs {
        let started = Instant::now();
        connection.get("/api/v1/auth/profile", Some(&bearer))?;
        let took = started.elapsed();
        let started = Instant::now();
        connection.get("/health", None)?;
        if i >= 500 {
            profile.push(took);
            health.push(started.elapsed());
        }
    }
    profile.sort();
    health.sort();
    let [p50, p99] = [0.5, 0.99].map(|q| at(&profile, q));
    let [h50, h99] = [0.5, 0.99].map(|q| at(&health, q));
    let (x50, x99) = (p50 / h50, p99 / h99);
    let holds = x50 <= 2.0 && x99 <= 3.0;
    println!(
        "\nOver HTTP on the local system (its `local` binary, own process), one keep-alive connection, {runs} of each after 500, alternating:\n\
         | request | p50 | p99 |\n|---|---:|---:|\n\
         | GET /api/v1/auth/profile | {} | {} |\n\
         | GET /health | {} | {} |\n\
         profile / health: {x50:.2}× at p50, {x99:.2}× at p99 (budget ≤ 2×, ≤ 3×: {})",
        micros(p50),
        micros(p99),
        micros(h50),
        micros(h99),
        if holds { "holds" } else { "OVER" },
    );
    Ok(holds)
}

/// One HTTP/1.1 keep-alive connection, blocking: a request written whole, its answer read to
/// the end of its body. What a load generator's connection does, and little more.
struct Connection {
    stream: std::net::TcpStream,
    host: String,
    buffer: Vec<u8>,
}

impl Connection {
    fn open(port: u16) -> anyhow::Result<Self> {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            host: format!("127.0.0.1:{port}"),
            buffer: Vec::with_capacity(16 * 1024),
        })
    }

    /// GETs `path`; anything but 200 is an error.
    fn get(&mut self, path: &str, bearer: Option<&str>) -> anyhow::Result<()> {
        use std::io::{Read, Write};
        let authorization = bearer
            .map(|token| format!("Authorization: Bearer {token}\r\n"))
            .unwrap_or_default();
        write!(
            self.stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{authorization}\r\n",
            self.host
        )?;
        self.buffer.clear();
        let mut chunk = [0u8; 8192];
        let (head, length) = loop {
            let read = self.stream.read(&mut chunk)?;
            anyhow::ensure!(read > 0, "the server closed the connection");
            self.buffer.extend_from_slice(&chunk[..read]);
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buffer[..end])?.to_owned();
                let length = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .context("an answer without Content-Length")?;
                break (head, end + 4 + length);
            }
        };
        while self.buffer.len() < length {
            let read = self.stream.read(&mut chunk)?;
            anyhow::ensure!(read > 0, "the server closed the connection");
            self.buffer.extend_from_slice(&chunk[..read]);
        }
        anyhow::ensure!(
            head.starts_with("HTTP/1.1 200"),
            "GET {path} answered {}",
            head.lines().next().unwrap_or_default()
        );
        Ok(())
    }
}

/// The guard's caller query for `user`, alone: p50 and p99 of `runs`, in seconds.
async fn caller_query(users: &UserRepo, user: Uuid, runs: usize) -> anyhow::Result<(f64, f64)> {
    let mut reads = Vec::with_capacity(100 + runs);
    for _ in 0..100 + runs {
        let started = Instant::now();
        users.with_roles(user).await?.context("the caller exists")?;
        reads.push(started.elapsed());
    }
    reads.drain(..100);
    reads.sort();
    Ok((at(&reads, 0.5), at(&reads, 0.99)))
}

type Lambda = Adapter<'static, axum::response::Response, Router>;

/// One endpoint and its echo, each behind lambda_http's adapter.
struct Bench {
    function: Lambda,
    echo: Lambda,
    /// The echo behind the API's middleware (`functions::http::app`), as a public route: what
    /// the middleware alone adds.
    echo_app: Lambda,
    /// The endpoint's sample event (events/<name>.json), the template of every request.
    sample: Value,
}

impl Bench {
    fn new(backend: &dyn Backend, function: &Function) -> anyhow::Result<Self> {
        let route = function.route().context("not an HTTP function")?;
        let app = build_http_app(function, backend)?;
        let method = axum::routing::MethodFilter::try_from(http::Method::from_bytes(
            route.method.as_bytes(),
        )?)?;
        let echo = Router::new().route(
            route.path,
            on(method, async |uri: http::Uri| {
                axum::Json(json!({ "path": uri.path() }))
            }),
        );
        let public = Route::public(route.method, route.path);
        let echo_app = functions::http::app(echo.clone(), &[public]);
        let events = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/");
        let file = format!("{events}{}.json", function.name);
        let sample = std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?;
        Ok(Self {
            function: Adapter::from(app),
            echo: Adapter::from(echo),
            echo_app: Adapter::from(echo_app),
            sample: serde_json::from_str(&sample)?,
        })
    }

    /// The sample event for `path`, with a bearer token, a body and a client address of its
    /// own (the `n`th), as API Gateway would send it.
    fn event(
        &self,
        path: &str,
        query: &str,
        bearer: Option<&str>,
        body: Option<String>,
        n: usize,
    ) -> Vec<u8> {
        let mut event = self.sample.clone();
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["path"] = json!(path);
        event["rawQueryString"] = json!(query);
        if let Some(map) = event.as_object_mut() {
            map.remove("queryStringParameters");
            map.remove("pathParameters");
        }
        let ip = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
        event["requestContext"]["http"]["sourceIp"] = json!(ip);
        let headers = event["headers"]
            .as_object_mut()
            .expect("a sample has headers");
        headers.remove("content-length");
        match bearer {
            Some(token) => headers.insert("authorization".into(), json!(format!("Bearer {token}"))),
            None => headers.remove("authorization"),
        };
        event["body"] = body.map_or(Value::Null, Value::String);
        serde_json::to_vec(&event).expect("JSON serialises")
    }

    /// `warmup` then `runs` requests of `event(i)`, each to the endpoint then the same to both
    /// echoes; `next` sees each endpoint response (a chained request reads its token there).
    async fn run(
        &mut self,
        warmup: usize,
        runs: usize,
        mut event: impl FnMut(&Self, usize) -> Vec<u8>,
        mut next: impl FnMut(&Value) -> anyhow::Result<()>,
    ) -> anyhow::Result<Figures> {
        let mut figures = Figures::default();
        for i in 0..warmup + runs {
            let bytes = event(self, i);
            let (took, response) = invoke(&mut self.function, &bytes).await?;
            next(&response)?;
            let (echo_took, _) = invoke(&mut self.echo, &bytes).await?;
            let (app_took, _) = invoke(&mut self.echo_app, &bytes).await?;
            if i >= warmup {
                figures.function.push(took);
                figures.echo.push(echo_took);
                figures.echo_app.push(app_took);
            }
        }
        Ok(figures)
    }
}

/// One invocation as the runtime makes it, minus the Runtime API: the event's JSON in, the
/// response's JSON out. Anything but a 2xx answer is an error.
async fn invoke(function: &mut Lambda, event: &[u8]) -> anyhow::Result<(Duration, Value)> {
    let started = Instant::now();
    let request: LambdaRequest = serde_json::from_slice(event)?;
    let invocation = LambdaEvent::new(request, Context::default());
    let response = function.ready().await?.call(invocation).await?;
    let bytes = serde_json::to_vec(&response)?;
    let took = started.elapsed();
    let response: Value = serde_json::from_slice(&bytes)?;
    let status = response["statusCode"].as_u64().unwrap_or(0);
    anyhow::ensure!(
        (200..300).contains(&status),
        "answered {status}: {}",
        response["body"]
    );
    Ok((took, response))
}

#[derive(Default)]
struct Figures {
    function: Vec<Duration>,
    echo: Vec<Duration>,
    echo_app: Vec<Duration>,
}

impl Figures {
    /// Prints the row; `budget`: whether the read budget applies. Returns whether it holds.
    fn print(mut self, name: &str, budget: bool) -> bool {
        self.function.sort();
        self.echo.sort();
        self.echo_app.sort();
        let [p50, p99] = [0.5, 0.99].map(|q| at(&self.function, q));
        let [e50, e99] = [0.5, 0.99].map(|q| at(&self.echo, q));
        let [m50, m99] = [0.5, 0.99].map(|q| at(&self.echo_app, q));
        let (x50, x99) = (p50 / e50, p99 / e99);
        let holds = x50 <= 2.0 && x99 <= 3.0;
        let verdict = match (budget, holds) {
            (false, _) => "—",
            (true, true) => "holds",
            (true, false) => "OVER",
        };
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {x50:.2}× | {x99:.2}× | {verdict} |",
            self.function.len(),
            micros(p50),
            micros(p99),
            micros(e50),
            micros(e99),
            micros(m50),
            micros(m99),
        );
        !budget || holds
    }
}

/// The `q` quantile of sorted durations, in seconds.
fn at(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64()
}

fn micros(seconds: f64) -> String {
    match seconds {
        s if s >= 0.01 => format!("{:.1} ms", s * 1e3),
        s => format!("{:.0} µs", s * 1e6),
    }
}
