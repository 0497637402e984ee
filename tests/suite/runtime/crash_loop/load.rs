//! The mixed load: client tasks that call the API until the system dies under them, writing
//! down which requests got a success answer and which got none.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub(super) const PASSWORD: &str = "a crash-proof passphrase";

/// Source addresses handed out so far. Each client speaks from its own loopback address, so
/// the per-address throttles (20 registrations an hour, 50 logins a quarter) count each client
/// apart, as they would count real users.
static ADDRESSES: AtomicU32 = AtomicU32::new(0);

/// A client speaking from a loopback address no other client uses (127.1.0.1 and up), where
/// the machine answers on the whole of 127.0.0.0/8 (Linux does; macOS only on 127.0.0.1,
/// where every client shares it and more of the load is throttled).
pub(super) fn fresh_client() -> anyhow::Result<reqwest::Client> {
    static SPREAD: OnceLock<bool> = OnceLock::new();
    let spread = *SPREAD.get_or_init(|| UdpSocket::bind((Ipv4Addr::new(127, 1, 0, 1), 0)).is_ok());
    let mut client = reqwest::Client::builder()
        // A request the kill cut off fails at once; this only bounds a hung one.
        .timeout(Duration::from_secs(20));
    if spread {
        let n = ADDRESSES.fetch_add(1, Ordering::Relaxed);
        client = client.local_address(IpAddr::V4(Ipv4Addr::from(0x7F01_0001 + n)));
    }
    Ok(client.build()?)
}

/// What came back: an answer, or nothing (the connection failed or was cut by the kill), in
/// which case the request may or may not have taken effect.
pub(super) enum Answer {
    Got(StatusCode, Value),
    Lost,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Call<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub token: Option<&'a str>,
    pub key: Option<&'a str>,
}

pub(super) async fn call(
    client: &reqwest::Client,
    base: &str,
    call: Call<'_>,
    body: Option<Value>,
) -> Answer {
    let mut request = client.request(call.method.clone(), format!("{base}{}", call.path));
    if let Some(token) = call.token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = call.key {
        request = request.header("idempotency-key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let Ok(response) = request.send().await else {
        return Answer::Lost;
    };
    let status = response.status();
    match response.bytes().await {
        Ok(bytes) => Answer::Got(
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ),
        Err(_) => Answer::Lost,
    }
}

/// A session as its client last saw it.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub refresh_token: String,
    pub access_token: String,
}

/// What the clients were told, over every cycle.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// Registrations answered 201: address and user id.
    pub registered: Vec<(String, String)>,
    /// Registrations that got no answer: their addresses.
    pub registrations_lost: Vec<String>,
    /// Users created by an administrator, answered 201: address and id.
    pub created: Vec<(String, String)>,
    pub creations_lost: Vec<String>,
    /// Renames answered 200: user id and the new name.
    pub renamed: Vec<(String, String)>,
    /// Users given MODERATOR, answered 201.
    pub promoted: Vec<String>,
    /// Jobs answered 202.
    pub jobs: Vec<String>,
    /// Job creations that got no answer: their idempotency key and body.
    pub jobs_lost: Vec<(String, Value)>,
    /// Avatar uploads answered 204: the user's id and the upload's key.
    pub avatars: Vec<(String, String)>,
    /// The keys of uploads that got no answer.
    pub uploads_lost: Vec<String>,
    pub logins: usize,
    pub refreshes: usize,
    /// Each pooled user's last session whose every answer came; a session whose refresh got
    /// no answer is dropped, since its token may or may not have been spent.
    pub sessions: BTreeMap<String, Session>,
    /// The uploaders' access tokens.
    pub uploader_tokens: BTreeMap<String, String>,
    /// Answers no request of the load should get (a 5xx, a refused acknowledged token).
    pub unexpected: Vec<String>,
}

pub(super) type Shared = Arc<Mutex<Ledger>>;

pub(super) fn note(ledger: &Shared, write: impl FnOnce(&mut Ledger)) {
    // A poisoned ledger means a client task panicked; the test fails on that join anyway.
    if let Ok(mut ledger) = ledger.lock() {
        write(&mut ledger);
    }
}

fn unexpected(ledger: &Shared, what: &str, status: StatusCode, body: &Value) {
    let line = format!("{what}: {status} {body}");
    note(ledger, |l| l.unexpected.push(line));
}

/// What every client task of one cycle shares.
#[derive(Clone)]
pub(super) struct Load {
    pub base: String,
    /// The administrator's access token for this cycle.
    pub admin: String,
    pub moderator_role: String,
    /// The run's prefix for addresses, so reruns on one machine never collide.
    pub run: String,
    pub ledger: Shared,
    /// Numbers each client task's requests apart.
    pub counter: Arc<AtomicU32>,
}

impl Load {
    fn next(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }
}

/// Registers new accounts, each address once, until a request gets no answer.
pub(super) async fn register(load: Load) -> anyhow::Result<()> {
    let mut client = fresh_client()?;
    let mut used = 0;
    loop {
        // Well under the per-address limit of registrations.
        if used == 10 {
            (client, used) = (fresh_client()?, 0);
        }
        used += 1;
        let email = format!("reg-{}-{}@example.com", load.run, load.next());
        let body = json!({"email": email, "name": "Crash Test", "password": PASSWORD});
        let post = Call {
            method: &Method::POST,
            path: "/api/v1/auth/register",
            token: None,
            key: None,
        };
        match call(&client, &load.base, post, Some(body)).await {
            Answer::Got(StatusCode::CREATED, body) => {
                let id = body["user"]["id"].as_str().unwrap_or_default().to_owned();
                note(&load.ledger, |l| l.registered.push((email, id)));
            }
            Answer::Got(StatusCode::TOO_MANY_REQUESTS, _) => used = 10,
            Answer::Got(status, body) => unexpected(&load.ledger, "register", status, &body),
            Answer::Lost => {
                note(&load.ledger, |l| l.registrations_lost.push(email));
                return Ok(());
            }
        }
    }
}

/// Logs the pooled `users` in and refreshes their sessions, one user after the other.
pub(super) async fn sessions(load: Load, users: Vec<String>) -> anyhow::Result<()> {
    let client = fresh_client()?;
    for user in users.iter().cycle() {
        let known = load
            .ledger
            .lock()
            .ok()
            .and_then(|l| l.sessions.get(user).cloned());
        let (answer, refreshing) = match known {
            Some(session) => {
                let body = json!({"refresh_token": session.refresh_token});
                let post = Call {
                    method: &Method::POST,
                    path: "/api/v1/auth/refresh",
                    token: None,
                    key: None,
                };
                (call(&client, &load.base, post, Some(body)).await, true)
            }
            None => {
                // A client address of its own, so logins stay under its limit.
                let body = json!({"email": user, "password": PASSWORD});
                let post = Call {
                    method: &Method::POST,
                    path: "/api/v1/auth/login",
                    token: None,
                    key: None,
                };
                (
                    call(&fresh_client()?, &load.base, post, Some(body)).await,
                    false,
                )
            }
        };
        match answer {
            Answer::Got(StatusCode::OK, body) => {
                let session = Session {
                    refresh_token: body["refresh_token"].as_str().unwrap_or_default().into(),
                    access_token: body["access_token"].as_str().unwrap_or_default().into(),
                };
                note(&load.ledger, |l| {
                    l.sessions.insert(user.clone(), session);
                    if refreshing {
                        l.refreshes += 1;
                    } else {
                        l.logins += 1;
                    }
                });
            }
            Answer::Got(status, body) => {
                let what = if refreshing {
                    format!("refreshing {user}'s acknowledged session")
                } else {
                    format!("logging {user} in")
                };
                unexpected(&load.ledger, &what, status, &body);
                note(&load.ledger, |l| {
                    l.sessions.remove(user);
                });
            }
            Answer::Lost => {
                note(&load.ledger, |l| {
                    l.sessions.remove(user);
                });
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The job types `POST /jobs` creates.
pub(super) const CREATABLE: [&str; 4] = [
    "export_users",
    "purge_expired",
    "redrive_stuck_jobs",
    "cleanup_unverified_users",
];

/// Creates jobs of every creatable type, each with an idempotency key.
pub(super) async fn jobs(load: Load) -> anyhow::Result<()> {
    let client = fresh_client()?;
    loop {
        let n = load.next();
        let key = format!("job-{}-{n}", load.run);
        let body = json!({"type": CREATABLE[n as usize % CREATABLE.len()], "payload": {}});
        let post = Call {
            method: &Method::POST,
            path: "/api/v1/jobs",
            token: Some(&load.admin),
            key: Some(&key),
        };
        match call(&client, &load.base, post, Some(body.clone())).await {
            Answer::Got(StatusCode::ACCEPTED, body) => {
                let id = body["job"]["id"].as_str().unwrap_or_default().to_owned();
                note(&load.ledger, |l| l.jobs.push(id));
            }
            Answer::Got(status, body) => unexpected(&load.ledger, "creating a job", status, &body),
            Answer::Lost => {
                note(&load.ledger, |l| l.jobs_lost.push((key, body)));
                return Ok(());
            }
        }
    }
}

/// An administrator's changes: creates a verified user, renames them, makes them MODERATOR.
pub(super) async fn admin_changes(load: Load) -> anyhow::Result<()> {
    let client = fresh_client()?;
    loop {
        let n = load.next();
        let email = format!("made-{}-{n}@example.com", load.run);
        let key = format!("create-{}-{n}", load.run);
        let body = json!({
            "email": email, "name": "Made Here", "password": PASSWORD, "email_verified": true,
        });
        let post = Call {
            method: &Method::POST,
            path: "/api/v1/users",
            token: Some(&load.admin),
            key: Some(&key),
        };
        let id = match call(&client, &load.base, post, Some(body)).await {
            Answer::Got(StatusCode::CREATED, body) => {
                let id = body["user"]["id"].as_str().unwrap_or_default().to_owned();
                note(&load.ledger, |l| l.created.push((email, id.clone())));
                id
            }
            Answer::Got(status, body) => {
                unexpected(&load.ledger, "creating a user", status, &body);
                continue;
            }
            Answer::Lost => {
                note(&load.ledger, |l| l.creations_lost.push(email));
                return Ok(());
            }
        };

        let name = format!("Renamed {n}");
        let path = format!("/api/v1/users/{id}");
        let key = format!("rename-{}-{n}", load.run);
        let patch = Call {
            method: &Method::PATCH,
            path: &path,
            token: Some(&load.admin),
            key: Some(&key),
        };
        match call(&client, &load.base, patch, Some(json!({"name": name}))).await {
            Answer::Got(StatusCode::OK, _) => {
                note(&load.ledger, |l| l.renamed.push((id.clone(), name)))
            }
            Answer::Got(status, body) => unexpected(&load.ledger, "renaming a user", status, &body),
            Answer::Lost => return Ok(()),
        }

        let path = format!("/api/v1/users/{id}/roles");
        let key = format!("promote-{}-{n}", load.run);
        let post = Call {
            method: &Method::POST,
            path: &path,
            token: Some(&load.admin),
            key: Some(&key),
        };
        let body = json!({"role_id": load.moderator_role});
        match call(&client, &load.base, post, Some(body)).await {
            Answer::Got(StatusCode::CREATED, _) => note(&load.ledger, |l| l.promoted.push(id)),
            Answer::Got(status, body) => {
                unexpected(&load.ledger, "assigning a role", status, &body)
            }
            Answer::Lost => return Ok(()),
        }
    }
}

/// Logs the pooled `users` in and uploads avatars for them, as each of them.
pub(super) async fn avatars(
    load: Load,
    users: Vec<(String, String)>,
    image: Arc<Vec<u8>>,
) -> anyhow::Result<()> {
    let client = fresh_client()?;
    for (email, id) in users.iter().cycle() {
        // Access tokens outlive a kill: each uploader logs in once, and again when refused.
        let known = load
            .ledger
            .lock()
            .ok()
            .and_then(|l| l.uploader_tokens.get(id).cloned());
        let token = match known {
            Some(token) => token,
            None => {
                let body = json!({"email": email, "password": PASSWORD});
                let post = Call {
                    method: &Method::POST,
                    path: "/api/v1/auth/login",
                    token: None,
                    key: None,
                };
                match call(&fresh_client()?, &load.base, post, Some(body)).await {
                    Answer::Got(StatusCode::OK, body) => {
                        let token = body["access_token"].as_str().unwrap_or_default().to_owned();
                        note(&load.ledger, |l| {
                            l.uploader_tokens.insert(id.clone(), token.clone());
                        });
                        token
                    }
                    Answer::Got(status, body) => {
                        unexpected(&load.ledger, "logging an uploader in", status, &body);
                        continue;
                    }
                    Answer::Lost => return Ok(()),
                }
            }
        };
        let path = format!("/api/v1/users/{id}/avatar");
        let post = Call {
            method: &Method::POST,
            path: &path,
            token: Some(&token),
            key: None,
        };
        let form = match call(
            &client,
            &load.base,
            post,
            Some(json!({"content_type": "image/png"})),
        )
        .await
        {
            Answer::Got(StatusCode::OK, form) => form,
            // Expired, in a long run.
            Answer::Got(StatusCode::UNAUTHORIZED, _) => {
                note(&load.ledger, |l| {
                    l.uploader_tokens.remove(id);
                });
                continue;
            }
            Answer::Got(status, body) => {
                unexpected(&load.ledger, "asking for an avatar form", status, &body);
                continue;
            }
            Answer::Lost => return Ok(()),
        };
        let mut multipart = reqwest::multipart::Form::new();
        for (name, value) in form["fields"].as_object().into_iter().flatten() {
            multipart = multipart.text(name.clone(), value.as_str().unwrap_or_default().to_owned());
        }
        let part = reqwest::multipart::Part::bytes(image.as_ref().clone())
            .file_name("avatar.png")
            .mime_str("image/png")?;
        let url = form["url"].as_str().unwrap_or_default();
        let key = form["fields"]["key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match client
            .post(url)
            .multipart(multipart.part("file", part))
            .send()
            .await
        {
            Ok(response) if response.status() == StatusCode::NO_CONTENT => {
                note(&load.ledger, |l| l.avatars.push((id.clone(), key)));
            }
            Ok(response) => {
                let status = response.status();
                let body = response.json().await.unwrap_or(Value::Null);
                unexpected(&load.ledger, "uploading an avatar", status, &body);
            }
            Err(_) => {
                note(&load.ledger, |l| l.uploads_lost.push(key));
                return Ok(());
            }
        }
    }
    Ok(())
}

/// What the retries of the job creations that got no answer came to.
#[derive(Debug, Default)]
pub(super) struct Retried {
    /// The stored answer, replayed: the first delivery committed and answered.
    pub replayed: usize,
    /// 409 `idempotency_answer_lost`: the first delivery committed and died before answering.
    pub answer_lost: usize,
    /// Created now: the first delivery never committed.
    pub created: usize,
}

/// Sends each job creation that got no answer again, with its key, as a client would after the
/// restart; a creation whose key a killed delivery still holds is tried again until the key's
/// deadline frees it. The jobs the answers name join the acknowledged ones.
pub(super) async fn retry_lost_jobs(load: &Load, deadline: Duration) -> anyhow::Result<Retried> {
    let lost = load
        .ledger
        .lock()
        .map(|l| l.jobs_lost.clone())
        .map_err(|_| anyhow::anyhow!("a client task panicked"))?;
    let client = fresh_client()?;
    let give_up = std::time::Instant::now() + deadline;
    let mut retried = Retried::default();
    for (key, body) in lost {
        loop {
            let response = client
                .post(format!("{}/api/v1/jobs", load.base))
                .bearer_auth(&load.admin)
                .header("idempotency-key", &key)
                .json(&body)
                .send()
                .await?;
            let status = response.status();
            let replayed = response.headers().contains_key("idempotent-replayed");
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            match (status, answer["code"].as_str()) {
                (StatusCode::ACCEPTED, _) => {
                    if replayed {
                        retried.replayed += 1;
                    } else {
                        retried.created += 1;
                    }
                    let id = answer["job"]["id"].as_str().unwrap_or_default().to_owned();
                    note(&load.ledger, |l| l.jobs.push(id));
                }
                (StatusCode::CONFLICT, Some("idempotency_answer_lost")) => retried.answer_lost += 1,
                (StatusCode::CONFLICT, Some("idempotency_in_flight"))
                    if std::time::Instant::now() < give_up =>
                {
                    // The killed delivery's claim lasts until its deadline.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                _ => unexpected(
                    &load.ledger,
                    &format!("retrying job creation {key}"),
                    status,
                    &answer,
                ),
            }
            break;
        }
    }
    Ok(retried)
}
