//! `Idempotency-Key` end to end, on both systems: concurrent deliveries of one request run it
//! once, a retry replays the answer, a reused key is refused, keys are the caller's own; and a
//! delivery that dies between its commit and storing its answer leaves no room for a second
//! effect.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::body::Body;
use functions::http;
use functions::wiring::{self, CREATE_JOB};
use futures_util::future::join_all;
use infra::compose::{Backend, WithStore};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::idempotency::PREFIX;
use shared::store::StoreError;
use shared::store::observed::{Call, Observed, Observer};
use tower::ServiceExt as _;

use crate::auth::{AuthSystem, PASSWORD, on_both_systems};
use crate::rbac::{admin, send};

/// Sends `body` to `path` with an idempotency key; the status, body and whether it was a
/// replay.
async fn keyed(
    app: &impl AuthSystem,
    method: Method,
    path: &str,
    token: Option<&str>,
    key: &str,
    body: &Value,
) -> anyhow::Result<(StatusCode, Value, bool)> {
    let mut request = app
        .client()
        .request(method, app.url(path))
        .header("Idempotency-Key", key)
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)?
    };
    Ok((status, body, replayed))
}

/// A job that waits a while, so the worker leaves it alone during the test.
fn later_job() -> Value {
    json!({"type": "purge_expired", "payload": {}, "delay_seconds": 900})
}

async fn jobs_of_type_purge(app: &impl AuthSystem, token: &str) -> anyhow::Result<usize> {
    let (status, body) = send(
        app,
        Method::GET,
        "/api/v1/jobs?type=purge_expired&limit=100",
        token,
        None,
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok(body["items"].as_array().map_or(0, Vec::len))
}

async fn twenty_concurrent_deliveries_of_one_request_run_it_once(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (_, token) = admin(app, "root@example.com").await?;
    let body = later_job();
    let answers = join_all((0..20).map(|_| {
        keyed(
            app,
            Method::POST,
            "/api/v1/jobs",
            Some(&token),
            "create-nightly-purge",
            &body,
        )
    }))
    .await;
    let mut ids = Vec::new();
    for answer in answers {
        let (status, body, _) = answer?;
        match status {
            StatusCode::ACCEPTED => ids.push(body["job"]["id"].clone()),
            StatusCode::CONFLICT => assert_eq!(body["code"], "idempotency_in_flight", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "one job, answered to every delivery that got an answer: {ids:?}"
    );

    // Once it is done, a retry replays its answer.
    let (status, replay, replayed) = keyed(
        app,
        Method::POST,
        "/api/v1/jobs",
        Some(&token),
        "create-nightly-purge",
        &body,
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{replay}");
    assert!(replayed, "the retry ran again");
    assert_eq!(replay["job"]["id"], ids[0]);
    assert_eq!(jobs_of_type_purge(app, &token).await?, 1);
    Ok(())
}

async fn a_key_names_one_request_of_one_caller(app: &impl AuthSystem) -> anyhow::Result<()> {
    let (_, root) = admin(app, "root@example.com").await?;
    let (_, other) = admin(app, "other@example.com").await?;
    let later = later_job();
    let post = |token, body| keyed(app, Method::POST, "/api/v1/jobs", Some(token), "k-1", body);
    let (status, first, _) = post(&root, &later).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");

    // The same key with another body, or on another route: refused.
    let changed = json!({"type": "purge_expired", "payload": {}, "delay_seconds": 60});
    let (status, body, _) = post(&root, &changed).await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "idempotency_key_reused");
    let role = json!({"name": "AUDITOR"});
    let (status, body, _) = keyed(
        app,
        Method::POST,
        "/api/v1/roles",
        Some(&root),
        "k-1",
        &role,
    )
    .await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Another caller's key of the same name is theirs: a second job.
    let (status, theirs, replayed) = post(&other, &later).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{theirs}");
    assert!(!replayed);
    assert_ne!(theirs["job"]["id"], first["job"]["id"]);
    assert_eq!(jobs_of_type_purge(app, &root).await?, 2);

    // A key that is not a short visible string is refused before anything runs.
    let (status, body, _) = keyed(
        app,
        Method::POST,
        "/api/v1/jobs",
        Some(&root),
        "two words",
        &later_job(),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(jobs_of_type_purge(app, &root).await?, 2);
    Ok(())
}

async fn an_anonymous_retry_of_a_registration_replays_it(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let body = json!({"email": "ada@example.com", "name": "Ada", "password": PASSWORD});
    let register = || {
        keyed(
            app,
            Method::POST,
            "/api/v1/auth/register",
            None,
            "signup-1",
            &body,
        )
    };
    let (status, first, replayed) = register().await?;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(!replayed);
    let (status, again, replayed) = register().await?;
    assert_eq!((status, replayed), (StatusCode::CREATED, true), "{again}");
    assert_eq!(again["user"]["id"], first["user"]["id"]);

    // Without the key it is a second registration, refused as such; anonymous keys are
    // scoped to their route, so the same key elsewhere is a request of its own.
    let response = app
        .client()
        .post(app.url("/api/v1/auth/register"))
        .json(&body)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let reset = json!({"email": "ada@example.com"});
    let (status, body, _) = keyed(
        app,
        Method::POST,
        "/api/v1/auth/reset-password",
        None,
        "signup-1",
        &reset,
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    Ok(())
}

on_both_systems!(
    twenty_concurrent_deliveries_of_one_request_run_it_once,
    a_key_names_one_request_of_one_caller,
    an_anonymous_retry_of_a_registration_replays_it,
);

/// Fails the store of every answer: the process "dies" after the effect and before the record
/// of its answer.
struct LoseAnswers;

#[async_trait]
impl Observer for LoseAnswers {
    async fn before(&self, call: Call<'_>) -> Result<(), StoreError> {
        match call {
            Call::Put { item, .. }
                if item.key.pk.starts_with(PREFIX)
                    && item.attrs.get("state") == Some(&json!("done")) =>
            {
                Err(StoreError::Unexpected(anyhow::anyhow!(
                    "the process died here"
                )))
            }
            _ => Ok(()),
        }
    }
}

/// `create_job` commits the job and its event in one transaction, which carries the key's
/// record: a delivery whose answer was lost leaves a key that refuses a second run.
async fn an_answer_lost_after_the_commit_does_not_run_the_request_again(
    app: &impl AuthSystem,
    backend: &dyn Backend,
) -> anyhow::Result<()> {
    let (_, token) = admin(app, "root@example.com").await?;
    let dying = WithStore::new(
        backend,
        Arc::new(Observed::new(backend.store()?, Arc::new(LoseAnswers))),
    );
    let route = CREATE_JOB.http_route(&dying, || wiring::authenticator(&dying))?;
    let function = http::app(route, &wiring::routes(&[CREATE_JOB]));
    // As on Lambda, the delivery must be over by the invocation's deadline: one far enough
    // ahead for a loaded machine, which the test then waits out.
    let deadline = SystemTime::now() + Duration::from_secs(8);
    let mut context = lambda_http::Context::default();
    context.deadline = u64::try_from(deadline.duration_since(UNIX_EPOCH)?.as_millis())?;
    let request = axum::http::Request::post("/api/v1/jobs")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", "nightly")
        .extension(context)
        .body(Body::from(later_job().to_string()))?;
    let first = function.oneshot(request).await?;
    assert_eq!(
        first.status(),
        StatusCode::ACCEPTED,
        "the delivery answered"
    );

    // The retries go to the system itself, which stores answers fine. Before the deadline the
    // first delivery may still be storing its answer; after it, the answer is lost for good.
    let job = later_job();
    let retry = || {
        keyed(
            app,
            Method::POST,
            "/api/v1/jobs",
            Some(&token),
            "nightly",
            &job,
        )
    };
    let (status, body, _) = retry().await?;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "idempotency_in_flight");
    tokio::time::sleep(
        deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default(),
    )
    .await;
    let (status, body, _) = retry().await?;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "idempotency_answer_lost");
    assert_eq!(
        jobs_of_type_purge(app, &token).await?,
        1,
        "the job was created twice"
    );
    Ok(())
}

#[tokio::test]
async fn local_an_answer_lost_after_the_commit_does_not_run_the_request_again() -> anyhow::Result<()>
{
    let app = tests::app::spawn_app().await?;
    let backend = infra::compose::LocalBackend::open_default(infra::config::LocalConfig::new(
        app.data_dir(),
        &app.address,
    ))
    .await?;
    an_answer_lost_after_the_commit_does_not_run_the_request_again(&app, &backend).await?;
    app.stop().await
}

#[tokio::test]
async fn aws_an_answer_lost_after_the_commit_does_not_run_the_request_again() -> anyhow::Result<()>
{
    let app = tests::aws_app::spawn_aws_app().await?;
    an_answer_lost_after_the_commit_does_not_run_the_request_again(&app, app.backend()).await?;
    app.stop().await
}
