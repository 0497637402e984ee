//! Each function's DynamoDB grants in template.yaml, against the calls it makes.
//!
//! Every function of the table is built as its Lambda main builds it, each over a store that
//! records what that function asks of it; a tour then calls every endpoint with requests that
//! succeed and runs every queue, stream and schedule function on what the tour left behind.
//! Every recorded call must be granted to its function: its action on the table or index, and
//! for a write, its partition key under the statement's `dynamodb:LeadingKeys`. Every
//! statement that grants a write on the table names the key prefixes it may write, and every
//! function holding such a grant must have written during the tour, so a grant cannot go
//! unchecked.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use async_trait::async_trait;
use axum::Router;
use chrono::{TimeDelta, Utc};
use functions::http;
use functions::jobs::creatable::CREATABLE;
use functions::trigger::ScheduleHandler;
use functions::wiring::{self, Built, FUNCTIONS, Trigger};
use image::{ImageFormat, RgbImage};
use infra::compose::{Backend, LocalBackend, WithStore};
use infra::config::LocalConfig;
use local_system::feed_pump::FeedPump;
use local_system::queue_pump::QueuePump;
use local_system::scheduler::scheduled_event;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use serde_yaml::Value as Yaml;
use shared::auth::password::Password;
use shared::jobs::repo::insert_write;
use shared::jobs::{Job, JobStatus};
use shared::rbac::seed::seed;
use shared::store::observed::{Call, Observed, Observer};
use shared::store::{StoreError, Write};
use shared::users::{Email, Name};
use tests::template::Template;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::auth::PASSWORD;

const ADMIN_EMAIL: &str = "root@example.com";

/// One kind of access a function made: a DynamoDB action on the table or one of its indexes,
/// and for a write, the partition key's prefix (`USER#`; a key without `#` is its own prefix).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Access {
    action: &'static str,
    /// `table`, or `index/<name>`.
    resource: String,
    prefix: Option<String>,
}

impl Access {
    fn read(action: &'static str, resource: impl Into<String>) -> Self {
        Self {
            action,
            resource: resource.into(),
            prefix: None,
        }
    }

    fn write(action: &'static str, pk: &str) -> Self {
        let prefix = match pk.split_once('#') {
            Some((head, _)) => format!("{head}#"),
            None => pk.to_owned(),
        };
        Self {
            action,
            resource: "table".to_owned(),
            prefix: Some(prefix),
        }
    }

    /// What DynamoDB authorizes for `call` (a transaction: each of its writes).
    fn of(call: Call<'_>) -> Vec<Self> {
        match call {
            Call::Get { .. } => vec![Self::read("dynamodb:GetItem", "table")],
            Call::Put { item, .. } => vec![Self::write("dynamodb:PutItem", &item.key.pk)],
            Call::Delete { key, .. } => vec![Self::write("dynamodb:DeleteItem", &key.pk)],
            Call::Add { key, .. } => vec![Self::write("dynamodb:UpdateItem", &key.pk)],
            Call::Transact { writes, .. } => writes
                .iter()
                .map(|write| match write {
                    Write::Put { item, .. } => Self::write("dynamodb:PutItem", &item.key.pk),
                    Write::Delete { key, .. } => Self::write("dynamodb:DeleteItem", &key.pk),
                    Write::Check { key, .. } => Self::write("dynamodb:ConditionCheckItem", &key.pk),
                })
                .collect(),
            Call::Query { query } => {
                let resource = match query.index {
                    Some(index) => format!("index/{}", index.name()),
                    None => "table".to_owned(),
                };
                vec![Self::read("dynamodb:Query", resource)]
            }
            // The expiry index, then a delete of whatever expired, whatever its key.
            Call::PurgeExpired { .. } => vec![
                Self::read("dynamodb:Query", "index/expiry"),
                Self {
                    action: "dynamodb:DeleteItem",
                    resource: "table".to_owned(),
                    prefix: Some("*".to_owned()),
                },
            ],
        }
    }

    fn is_write(&self) -> bool {
        self.prefix.is_some()
    }
}

/// What every function asked of its store, by function name; and the functions that wrote an
/// idempotency key's record inside a transaction (with the request's effect).
#[derive(Debug, Default)]
struct Log {
    accesses: Mutex<BTreeMap<&'static str, BTreeSet<Access>>>,
    keyed_in_transaction: Mutex<BTreeSet<&'static str>>,
}

impl Log {
    fn accesses(&self) -> BTreeMap<&'static str, BTreeSet<Access>> {
        let accesses = self.accesses.lock();
        accesses.unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn keyed_in_transaction(&self) -> Vec<&'static str> {
        let keyed = self.keyed_in_transaction.lock();
        keyed
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }
}

struct Recorder {
    function: &'static str,
    log: Arc<Log>,
}

#[async_trait]
impl Observer for Recorder {
    async fn before(&self, call: Call<'_>) -> Result<(), StoreError> {
        self.log
            .accesses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(self.function)
            .or_default()
            .extend(Access::of(call));
        if let Call::Transact { writes, .. } = call {
            let keyed = writes.iter().any(|write| match write {
                Write::Put { item, .. } => item.key.pk.starts_with(shared::idempotency::PREFIX),
                _ => false,
            });
            if keyed {
                let keyed = self.log.keyed_in_transaction.lock();
                keyed
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(self.function);
            }
        }
        Ok(())
    }
}

/// Every function of the table over its own recording backend: the HTTP functions behind one
/// server, the others as the local runtime's pumps and schedule handlers, run by the tour.
struct System {
    url: String,
    client: reqwest::Client,
    backend: Arc<LocalBackend>,
    feeds: Vec<FeedPump>,
    queues: Vec<QueuePump>,
    schedules: Vec<(&'static str, Arc<dyn ScheduleHandler>)>,
    log: Arc<Log>,
    contract: Contract,
    _dir: tempfile::TempDir,
}

impl System {
    async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let mut config = LocalConfig::new(dir.path(), &url);
        // What the maintenance schedules act on is made by the tour, not waited for.
        config.settings.outbox_reconcile_after = Duration::ZERO;
        config.settings.unverified_account_ttl = Duration::ZERO;
        let backend = Arc::new(LocalBackend::open_default(config).await?);
        infra::compose::ensure_keys(backend.as_ref()).await?;
        seed(backend.store()?.as_ref(), backend.clock().now()).await?;
        backend
            .accounts()?
            .ensure_admin(
                Email::parse(ADMIN_EMAIL)?,
                Name::parse("Root")?,
                Password::parse(PASSWORD.to_owned())?,
            )
            .await?;

        let log = Arc::new(Log::default());
        let (mut api, mut feeds, mut queues, mut schedules) =
            (Router::new(), Vec::new(), Vec::new(), Vec::new());
        for function in FUNCTIONS {
            let recorder = Arc::new(Recorder {
                function: function.name,
                log: log.clone(),
            });
            let recording = Arc::new(Observed::new(backend.store()?, recorder));
            let tagged = WithStore::new(backend.as_ref(), recording);
            match function.trigger() {
                Trigger::Http(_) => {
                    let built = function.build(&tagged, || wiring::authenticator(&tagged))?;
                    let Built::Http(route) = built else {
                        bail!("{} is an HTTP function without a route", function.name);
                    };
                    api = api.merge(route);
                }
                Trigger::Stream => feeds.push(FeedPump::new(
                    function.name,
                    backend.local_store(),
                    function.stream_handler(&tagged)?,
                )),
                Trigger::Queue { queue } => queues.push(
                    QueuePump::new(
                        queue,
                        backend.local_queue(queue),
                        function.queue_handler(&tagged)?,
                    )
                    .with_timing(Duration::from_secs(60), Duration::ZERO),
                ),
                Trigger::Schedule { .. } => {
                    schedules.push((function.name, function.schedule_handler(&tagged)?));
                }
            }
        }
        let uploads = local_system::blobs::routes(backend.local_blobs());
        let declared = [wiring::routes(FUNCTIONS), local_system::ROUTES.to_vec()].concat();
        let app = http::app_of_limited(
            http::limit(api, http::MAX_BODY_BYTES).merge(http::limit(uploads, 8 << 20)),
            &declared,
        );
        tokio::spawn(
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .into_future(),
        );
        Ok(Self {
            url,
            client: reqwest::Client::new(),
            backend,
            feeds,
            queues,
            schedules,
            log,
            contract: Contract::committed()?,
            _dir: dir,
        })
    }

    /// Calls the API; the answer's status and JSON body (`null` when it has none).
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let changes = [Method::POST, Method::PATCH, Method::DELETE].contains(&method);
        let method_name = method.as_str().to_owned();
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if changes {
            // So the idempotent routes' key records are among what is checked.
            request = request.header("Idempotency-Key", Uuid::now_v7().to_string());
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| path.to_owned())?;
        let status = response.status();
        let text = response.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).with_context(|| format!("{path}: {text}"))?
        };
        self.contract.check(&method_name, path, status, &body);
        Ok((status, body))
    }

    /// [`Self::call`] that must answer `expected`; the body.
    async fn expect(
        &self,
        expected: StatusCode,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.call(method.clone(), path, token, body).await?;
        ensure!(
            status == expected,
            "{method} {path}: {status}, expected {expected}: {answer}"
        );
        Ok(answer)
    }

    async fn login(&self, email: &str, password: &str) -> anyhow::Result<(String, String)> {
        let body = json!({"email": email, "password": password});
        let login = self
            .expect(
                StatusCode::OK,
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(body),
            )
            .await?;
        let text = |field: &str| login[field].as_str().map(str::to_owned);
        Ok((
            text("access_token").context("no access token")?,
            text("refresh_token").context("no refresh token")?,
        ))
    }

    /// Runs the stream and queue functions until nothing is left for them.
    async fn settle(&self) -> anyhow::Result<()> {
        for _ in 0..50 {
            let mut work = 0;
            for feed in &self.feeds {
                work += feed.pump_once().await?.delivered;
            }
            for queue in &self.queues {
                work += queue.pump_once().await?.received;
            }
            if work == 0 {
                return Ok(());
            }
        }
        bail!("the background work never settled")
    }

    /// The token of the newest mail to `to` linking to `/{path}`.
    async fn mailed_token(&self, to: &str, path: &str) -> anyhow::Result<String> {
        self.settle().await?;
        let mails = self.backend.mailbox().list().await?;
        mails
            .iter()
            .filter(|mail| mail.to == to)
            .find_map(|mail| crate::auth::link_token(&mail.text, path))
            .with_context(|| format!("no mail to {to} links to /{path}"))
    }
}

fn png() -> Vec<u8> {
    let pixels = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut bytes = Vec::new();
    pixels
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .expect("encoding a PNG");
    bytes
}

/// Calls every endpoint with requests that succeed, then runs every schedule on what they
/// left (an unverified account, a pending event, a stuck job, expired items).
async fn tour(system: &System) -> anyhow::Result<()> {
    use Method as M;
    use StatusCode as S;
    let s = system;
    let some = |v: Value| Some(v);
    let (admin, _) = s.login(ADMIN_EMAIL, PASSWORD).await?;
    let admin = Some(admin.as_str());

    // An account's life: register, verify, sessions, passwords.
    let ada = "ada@example.com";
    let new = json!({"email": ada, "name": "Ada", "password": PASSWORD});
    s.expect(
        S::CREATED,
        M::POST,
        "/api/v1/auth/register",
        None,
        some(new),
    )
    .await?;
    let token = s.mailed_token(ada, "verify-email").await?;
    let body = json!({"token": token});
    s.expect(
        S::OK,
        M::POST,
        "/api/v1/auth/verify-email",
        None,
        some(body),
    )
    .await?;
    let body = json!({"email": ada});
    s.expect(
        S::ACCEPTED,
        M::POST,
        "/api/v1/auth/resend-verification",
        None,
        some(body),
    )
    .await?;
    let (_, refresh) = s.login(ada, PASSWORD).await?;
    let body = json!({"refresh_token": refresh});
    let pair = s
        .expect(S::OK, M::POST, "/api/v1/auth/refresh", None, some(body))
        .await?;
    let access = pair["access_token"]
        .as_str()
        .context("refresh gave no token")?
        .to_owned();
    let me = Some(access.as_str());
    let profile = s
        .expect(S::OK, M::GET, "/api/v1/auth/profile", me, None)
        .await?;
    ensure!(profile["user"]["email"] == ada, "{profile}");
    s.expect(S::OK, M::GET, "/api/v1/auth/permissions", me, None)
        .await?;
    s.login(ada, PASSWORD).await?;
    let sessions = s
        .expect(S::OK, M::GET, "/api/v1/auth/sessions", me, None)
        .await?;
    let other = sessions["items"]
        .as_array()
        .context("no sessions")?
        .iter()
        .find(|session| session["current"] != json!(true))
        .and_then(|session| session["id"].as_str())
        .context("no second session")?
        .to_owned();
    let path = format!("/api/v1/auth/sessions/{other}");
    s.expect(S::NO_CONTENT, M::DELETE, &path, me, None).await?;
    let changed = "another long passphrase";
    let body = json!({"current_password": PASSWORD, "new_password": changed});
    s.expect(
        S::NO_CONTENT,
        M::PUT,
        "/api/v1/auth/change-password",
        me,
        some(body),
    )
    .await?;
    let body = json!({"email": ada});
    s.expect(
        S::ACCEPTED,
        M::POST,
        "/api/v1/auth/reset-password",
        None,
        some(body),
    )
    .await?;
    let token = s.mailed_token(ada, "reset-password").await?;
    let body = json!({"token": token, "new_password": PASSWORD});
    s.expect(
        S::NO_CONTENT,
        M::POST,
        "/api/v1/auth/confirm-reset",
        None,
        some(body),
    )
    .await?;
    let (access, refresh) = s.login(ada, PASSWORD).await?;
    let body = json!({"refresh_token": refresh});
    s.expect(
        S::NO_CONTENT,
        M::POST,
        "/api/v1/auth/logout",
        Some(&access),
        some(body),
    )
    .await?;
    let (access, _) = s.login(ada, PASSWORD).await?;
    s.expect(
        S::NO_CONTENT,
        M::POST,
        "/api/v1/auth/logout-all",
        Some(&access),
        None,
    )
    .await?;

    // Users, as an administrator.
    let body = json!({"email": "grace@example.com", "name": "Grace", "password": PASSWORD, "email_verified": true});
    let grace = s
        .expect(S::CREATED, M::POST, "/api/v1/users", admin, some(body))
        .await?;
    let grace = grace["user"]["id"]
        .as_str()
        .context("no user id")?
        .to_owned();
    s.expect(S::OK, M::GET, "/api/v1/users?limit=10", admin, None)
        .await?;
    let user = format!("/api/v1/users/{grace}");
    s.expect(S::OK, M::GET, &user, admin, None).await?;
    for body in [
        json!({"name": "Grace H."}),
        json!({"status": "disabled"}),
        json!({"status": "active"}),
    ] {
        s.expect(S::OK, M::PATCH, &user, admin, Some(body)).await?;
    }
    let body = json!({"name": "Grace Hopper"});
    s.expect(S::OK, M::PATCH, &user, admin, some(body)).await?;
    let body = json!({"content_type": "image/png"});
    let form = s
        .expect(S::OK, M::POST, &format!("{user}/avatar"), admin, some(body))
        .await?;
    let mut multipart = reqwest::multipart::Form::new();
    for (name, value) in form["fields"].as_object().context("no form fields")? {
        multipart = multipart.text(name.clone(), value.as_str().unwrap_or_default().to_owned());
    }
    let file = reqwest::multipart::Part::bytes(png())
        .file_name("a.png")
        .mime_str("image/png")?;
    let upload = s
        .client
        .post(form["url"].as_str().context("no form url")?)
        .multipart(multipart.part("file", file))
        .send()
        .await?;
    ensure!(
        upload.status().is_success(),
        "the upload: {}",
        upload.status()
    );
    s.settle().await?;
    let avatar = s.expect(S::OK, M::GET, &user, admin, None).await?;
    ensure!(
        avatar["user"]["avatar_url"].is_string(),
        "no avatar: {avatar}"
    );

    // Roles and permissions.
    let body = json!({"name": "reports:read", "description": "Read reports"});
    let permission = s
        .expect(
            S::CREATED,
            M::POST,
            "/api/v1/permissions",
            admin,
            some(body),
        )
        .await?;
    let permission = permission["permission"]["id"]
        .as_str()
        .context("no id")?
        .to_owned();
    s.expect(S::OK, M::GET, "/api/v1/permissions", admin, None)
        .await?;
    let path = format!("/api/v1/permissions/{permission}");
    s.expect(S::OK, M::GET, &path, admin, None).await?;
    let body = json!({"description": "Reads the reports"});
    s.expect(S::OK, M::PATCH, &path, admin, some(body)).await?;
    let body = json!({"name": "AUDITOR", "description": "Audits"});
    let role = s
        .expect(S::CREATED, M::POST, "/api/v1/roles", admin, some(body))
        .await?;
    let role = role["role"]["id"].as_str().context("no id")?.to_owned();
    s.expect(S::OK, M::GET, "/api/v1/roles", admin, None)
        .await?;
    let role_path = format!("/api/v1/roles/{role}");
    s.expect(S::OK, M::GET, &role_path, admin, None).await?;
    let body = json!({"description": "Audits everything"});
    s.expect(S::OK, M::PATCH, &role_path, admin, some(body))
        .await?;
    let body = json!({"permission_ids": [permission]});
    let grants = format!("{role_path}/permissions");
    s.expect(S::OK, M::PUT, &grants, admin, some(body)).await?;
    let body = json!({"role_id": role});
    s.expect(
        S::CREATED,
        M::POST,
        &format!("{user}/roles"),
        admin,
        some(body),
    )
    .await?;
    s.expect(S::OK, M::GET, &format!("{user}/roles"), admin, None)
        .await?;
    let assignment = format!("{user}/roles/{role}");
    s.expect(S::NO_CONTENT, M::DELETE, &assignment, admin, None)
        .await?;
    s.expect(S::NO_CONTENT, M::DELETE, &path, admin, None)
        .await?;
    s.expect(S::NO_CONTENT, M::DELETE, &role_path, admin, None)
        .await?;

    // Jobs.
    let body = json!({"type": "export_users", "payload": {}});
    let export = s
        .expect(S::ACCEPTED, M::POST, "/api/v1/jobs", admin, some(body))
        .await?;
    let export = export["job"]["id"].as_str().context("no id")?.to_owned();
    s.expect(S::OK, M::GET, "/api/v1/jobs", admin, None).await?;
    s.settle().await?;
    let job = s
        .expect(
            S::OK,
            M::GET,
            &format!("/api/v1/jobs/{export}"),
            admin,
            None,
        )
        .await?;
    ensure!(job["job"]["status"] == "succeeded", "the export: {job}");
    let body = json!({"type": "purge_expired", "payload": {}, "delay_seconds": 900});
    let later = s
        .expect(S::ACCEPTED, M::POST, "/api/v1/jobs", admin, some(body))
        .await?;
    let later = later["job"]["id"].as_str().context("no id")?.to_owned();
    s.expect(
        S::OK,
        M::POST,
        &format!("/api/v1/jobs/{later}/cancel"),
        admin,
        None,
    )
    .await?;
    let now = Utc::now();
    let mut failed = Job::new(Uuid::now_v7(), "purge_expired", json!({}), 3, now, now);
    failed.status = JobStatus::Failed;
    failed.attempts = 1;
    s.backend
        .store()?
        .transact(vec![insert_write(&failed)?])
        .await?;
    let retry = format!("/api/v1/jobs/{}/retry", failed.id);
    s.expect(S::OK, M::POST, &retry, admin, None).await?;

    // The user signs in before being deleted, so their sessions go with them.
    s.login("grace@example.com", PASSWORD).await?;
    s.expect(S::NO_CONTENT, M::DELETE, &user, admin, None)
        .await?;
    s.settle().await?;

    // Every job type an administrator may create, run by the worker; then every schedule.
    // Each time there is something to do: an unverified account whose event is still
    // pending, a stuck job, and expired items.
    leave_work(s).await?;
    for kind in CREATABLE {
        let body = json!({"type": kind.name, "payload": {}});
        s.expect(S::ACCEPTED, M::POST, "/api/v1/jobs", admin, some(body))
            .await?;
    }
    s.settle().await?;
    leave_work(s).await?;
    for (name, handler) in &s.schedules {
        handler
            .handle(scheduled_event(name, Utc::now()))
            .await
            .with_context(|| format!("the schedule of {name}"))?;
    }
    s.settle().await?;
    Ok(())
}

/// What the maintenance jobs and schedules act on: an unverified account (its event still
/// pending) and a job left running long ago.
async fn leave_work(s: &System) -> anyhow::Result<()> {
    let email = format!("late{}@example.com", Uuid::now_v7().simple());
    let body = json!({"email": email, "name": "Late", "password": PASSWORD});
    s.expect(
        StatusCode::CREATED,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(body),
    )
    .await?;
    let then = Utc::now() - TimeDelta::hours(2);
    let mut stuck = Job::new(Uuid::now_v7(), "purge_expired", json!({}), 3, then, then);
    stuck.status = JobStatus::Running;
    stuck.attempts = 1;
    stuck.started_at = Some(then);
    s.backend
        .store()?
        .transact(vec![insert_write(&stuck)?])
        .await?;
    Ok(())
}

/// A statement of a function's policy that grants DynamoDB actions on the table or its
/// indexes.
#[derive(Debug)]
struct Grant {
    actions: BTreeSet<String>,
    /// `table`, `index/<name>`.
    resources: BTreeSet<String>,
    /// The `dynamodb:LeadingKeys` patterns it is limited to, if any.
    leading: Option<Vec<String>>,
}

impl Grant {
    fn allows(&self, access: &Access) -> bool {
        self.actions.contains(access.action)
            && self.resources.contains(&access.resource)
            && match (&access.prefix, &self.leading) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some(prefix), Some(patterns)) => patterns.iter().any(|pattern| {
                    pattern == prefix || pattern.strip_suffix('*') == Some(prefix.as_str())
                }),
            }
    }

    fn writes(&self) -> bool {
        self.resources.contains("table")
            && self.actions.iter().any(|a| WRITES.contains(&a.as_str()))
    }
}

const WRITES: [&str; 4] = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
];

/// Deleting what expired, whatever its key: the one write no key prefix can limit.
fn purges(made: &BTreeSet<Access>) -> bool {
    made.iter()
        .any(|a| a.action == "dynamodb:DeleteItem" && a.prefix.as_deref() == Some("*"))
}

fn strings(value: Option<&Yaml>) -> Vec<String> {
    match value {
        Some(Yaml::String(one)) => vec![one.clone()],
        Some(Yaml::Sequence(many)) => many
            .iter()
            .filter_map(Yaml::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// `table` or `index/<name>` for a resource naming the table, else `None`.
fn table_resource(resource: &Yaml) -> Option<String> {
    if let Some(parts) = resource.get("Fn::GetAtt").and_then(Yaml::as_sequence) {
        let parts: Vec<_> = parts.iter().filter_map(Yaml::as_str).collect();
        return (parts == ["Table", "Arn"]).then(|| "table".to_owned());
    }
    let sub = resource.get("Fn::Sub").and_then(Yaml::as_str)?;
    sub.strip_prefix("${Table.Arn}/").map(str::to_owned)
}

/// The DynamoDB statements a function holds: its `Policies`, or its role's.
fn grants_of(template: &Template, logical_id: &str) -> anyhow::Result<Vec<Grant>> {
    let (_, function) = template
        .resources_of_type("AWS::Serverless::Function")
        .find(|(id, _)| *id == logical_id)
        .with_context(|| format!("{logical_id} is not in the template"))?;
    let properties = function.get("Properties").context("no properties")?;
    let mut statements = Vec::new();
    let policies = match properties.get("Role").and_then(|r| r.get("Fn::GetAtt")) {
        Some(role) => {
            let role = role
                .get(0)
                .and_then(Yaml::as_str)
                .context("a role reference")?;
            let (_, role) = template
                .resources_of_type("AWS::IAM::Role")
                .find(|(id, _)| *id == role)
                .with_context(|| format!("{logical_id}'s role {role}"))?;
            role.get("Properties").and_then(|p| p.get("Policies"))
        }
        None => properties.get("Policies"),
    };
    for policy in policies.and_then(Yaml::as_sequence).into_iter().flatten() {
        let document = policy.get("PolicyDocument").unwrap_or(policy);
        statements.extend(
            document
                .get("Statement")
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten(),
        );
    }
    let mut grants = Vec::new();
    for statement in statements {
        let actions: BTreeSet<String> = strings(statement.get("Action"))
            .into_iter()
            .filter(|a| a.starts_with("dynamodb:"))
            .collect();
        let resources: BTreeSet<String> = match statement.get("Resource") {
            Some(Yaml::Sequence(many)) => many.iter().filter_map(table_resource).collect(),
            Some(one) => table_resource(one).into_iter().collect(),
            None => BTreeSet::new(),
        };
        if actions.is_empty() || resources.is_empty() {
            continue;
        }
        let leading = statement
            .get("Condition")
            .map(|condition| {
                let keys = condition
                    .get("ForAllValues:StringLike")
                    .and_then(|c| c.get("dynamodb:LeadingKeys"))
                    .with_context(|| format!("{logical_id}: a condition other than ForAllValues:StringLike on dynamodb:LeadingKeys"))?;
                anyhow::Ok(strings(Some(keys)))
            })
            .transpose()?;
        grants.push(Grant {
            actions,
            resources,
            leading,
        });
    }
    Ok(grants)
}

/// The idempotent routes whose key record commits in the same transaction as their effect, so
/// a lost answer never runs them twice (README, "Idempotency keys"). The others (ending a
/// session, which a second time does nothing) run at least once.
const KEYED_WITH_THE_EFFECT: [&str; 20] = [
    "assign_role",
    "cancel_job",
    "confirm_reset",
    "create_job",
    "create_permission",
    "create_role",
    "create_user",
    "delete_permission",
    "delete_role",
    "delete_user",
    "logout_all",
    "register",
    "resend_verification",
    "reset_password",
    "retry_job",
    "revoke_role",
    "update_permission",
    "update_role",
    "update_user",
    "verify_email",
];

#[tokio::test]
async fn idempotent_routes_commit_their_key_with_their_effect() -> anyhow::Result<()> {
    let system = System::start().await?;
    tour(&system).await?;
    assert_eq!(system.log.keyed_in_transaction(), KEYED_WITH_THE_EFFECT);
    Ok(())
}

#[tokio::test]
async fn every_store_call_of_every_function_is_granted_and_writes_only_its_own_keys()
-> anyhow::Result<()> {
    let system = System::start().await?;
    tour(&system).await?;
    let recorded = system.log.accesses();

    let template = Template::load()?;
    let ids: BTreeMap<String, String> = template
        .functions()?
        .into_iter()
        .map(|f| (f.handler, f.logical_id))
        .collect();
    let mut wrong = Vec::new();
    let mut report = Vec::new();
    for function in FUNCTIONS {
        let id = ids
            .get(function.name)
            .with_context(|| format!("{} is not in the template", function.name))?;
        let grants = grants_of(&template, id)?;
        let made = recorded.get(function.name).cloned().unwrap_or_default();
        for access in &made {
            if !grants.iter().any(|grant| grant.allows(access)) {
                wrong.push(format!("{}: {access:?} is not granted", function.name));
            }
        }
        for grant in grants.iter().filter(|g| g.writes()) {
            // Only a function that purges expired items may delete without a key limit.
            let purge_only = grant
                .actions
                .iter()
                .all(|a| !WRITES.contains(&a.as_str()) || a == "dynamodb:DeleteItem")
                && purges(&made);
            if grant.leading.is_none() && !purge_only {
                wrong.push(format!(
                    "{}: a write grant without dynamodb:LeadingKeys: {grant:?}",
                    function.name
                ));
            }
        }
        let writes: BTreeSet<_> = made
            .iter()
            .filter(|a| a.is_write())
            .map(|a| format!("{} {}", a.action, a.prefix.as_deref().unwrap_or_default()))
            .collect();
        if grants.iter().any(Grant::writes) && writes.is_empty() {
            wrong.push(format!(
                "{}: holds a write grant but wrote nothing in the tour",
                function.name
            ));
        }
        report.push(format!(
            "{:<28} {}",
            function.name,
            writes.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    assert!(
        wrong.is_empty(),
        "{}\n\nwhat each function wrote:\n{}",
        wrong.join("\n"),
        report.join("\n")
    );
    Ok(())
}

/// The committed OpenAPI document, as what the tour's answers are checked against: each
/// answer's status must be one its operation documents, and its body must match the schema
/// given for that status.
struct Contract {
    document: Value,
    violations: Mutex<Vec<String>>,
}

impl Contract {
    fn committed() -> anyhow::Result<Self> {
        Ok(Self {
            document: serde_json::from_str(functions::openapi::COMMITTED)?,
            violations: Mutex::default(),
        })
    }

    fn violations(&self) -> Vec<String> {
        self.violations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn violation(&self, what: String) {
        let violations = self.violations.lock();
        violations
            .unwrap_or_else(PoisonError::into_inner)
            .push(what);
    }

    /// The route template and operation of a concrete request.
    fn operation(&self, method: &str, path: &str) -> Option<(&str, &Value)> {
        let path = path.split('?').next().unwrap_or(path);
        let asked: Vec<&str> = path.split('/').collect();
        self.document["paths"]
            .as_object()?
            .iter()
            .find_map(|(template, item)| {
                let parts: Vec<&str> = template.split('/').collect();
                let fits = parts.len() == asked.len()
                    && parts
                        .iter()
                        .zip(&asked)
                        .all(|(part, given)| part.starts_with('{') || part == given);
                let operation = item.get(method.to_lowercase())?;
                fits.then_some((template.as_str(), operation))
            })
    }

    fn check(&self, method: &str, path: &str, status: StatusCode, body: &Value) {
        let Some((template, operation)) = self.operation(method, path) else {
            self.violation(format!("{method} {path}: no operation in the document"));
            return;
        };
        let answer = &operation["responses"][status.as_str()];
        if answer.is_null() {
            self.violation(format!(
                "{method} {template}: {status} is not a documented answer"
            ));
            return;
        }
        let Some(schema) = answer["content"]
            .as_object()
            .and_then(|content| content.values().next())
            .map(|media| media["schema"].clone())
        else {
            if !body.is_null() {
                self.violation(format!(
                    "{method} {template}: {status} has a body, documented as none"
                ));
            }
            return;
        };
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.document["components"],
            "allOf": [schema],
        });
        match jsonschema::validator_for(&root) {
            Ok(validator) => {
                for error in validator.iter_errors(body) {
                    self.violation(format!(
                        "{method} {template} {status}: {error} at {}",
                        error.instance_path
                    ));
                }
            }
            Err(error) => self.violation(format!(
                "{method} {template}: the schema does not compile: {error}"
            )),
        }
    }
}

#[tokio::test]
async fn every_answer_of_the_tour_is_one_the_openapi_document_describes() -> anyhow::Result<()> {
    let system = System::start().await?;
    tour(&system).await?;
    let violations = system.contract.violations();
    // The check itself: a body unlike its schema and an undocumented status are caught.
    let contract = Contract::committed()?;
    contract.check("GET", "/health", StatusCode::OK, &json!({"status": 5}));
    contract.check(
        "GET",
        "/api/v1/users/0193",
        StatusCode::OK,
        &json!({"user": {"id": "x"}}),
    );
    contract.check("GET", "/health", StatusCode::IM_A_TEAPOT, &Value::Null);
    let caught = contract.violations();
    for wrong in [
        "GET /health 200",
        "GET /api/v1/users/{id} 200",
        "GET /health: 418",
    ] {
        assert!(
            caught.iter().any(|v| v.starts_with(wrong)),
            "{wrong} not caught: {caught:#?}"
        );
    }
    assert!(
        violations.is_empty(),
        "answers unlike the document:\n{}",
        violations.join("\n")
    );
    Ok(())
}
