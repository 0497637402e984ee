//! The jobs API over real HTTP (`/api/v1/jobs/{id}`, `/cancel`, `/retry`), each case written once
//! and run on the local system and on the AWS adapters on the emulator.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::jobs::repo::insert_write;
use shared::jobs::{Job, JobStatus};
use shared::rbac::model::seeded_role_id;
use shared::rbac::seed::ADMIN;
use uuid::Uuid;

use crate::auth::{AuthSystem, on_both_systems};

/// Stores a job of status `status` that has spent `attempts` attempts; returns its id.
async fn job_in(app: &impl AuthSystem, status: JobStatus, attempts: u32) -> anyhow::Result<Uuid> {
    let now = Utc::now();
    // Far in the future: no worker that sees its message runs it before the case is over.
    let later = now + chrono::TimeDelta::days(1);
    let job = Job {
        status,
        attempts,
        last_error: (status == JobStatus::Dead).then(|| "gave up".to_owned()),
        ..Job::new(Uuid::now_v7(), "purge_expired", json!({}), 3, now, later)
    };
    app.store()
        .await?
        .transact(vec![insert_write(&job)?])
        .await?;
    Ok(job.id)
}

async fn admin(app: &impl AuthSystem) -> anyhow::Result<String> {
    app.create_user("root@example.com", vec![seeded_role_id(ADMIN)])
        .await?;
    app.token_of("root@example.com").await
}

async fn call(
    app: &impl AuthSystem,
    method: Method,
    path: &str,
    token: &str,
) -> anyhow::Result<(StatusCode, Value)> {
    let response = app.call(method, path, Some(token), None).await?;
    Ok((response.status(), response.json().await?))
}

async fn a_reader_of_jobs_reads_one_and_no_one_else_does(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let root = admin(app).await?;
    let id = job_in(app, JobStatus::Queued, 0).await?;
    let (status, body) = call(app, Method::GET, &format!("/api/v1/jobs/{id}"), &root).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["job"]["id"], id.to_string());
    assert_eq!(body["job"]["status"], "queued");
    assert_eq!(body["job"]["job_type"], "purge_expired");

    let missing = format!("/api/v1/jobs/{}", Uuid::now_v7());
    assert_eq!(
        call(app, Method::GET, &missing, &root).await?.0,
        StatusCode::NOT_FOUND
    );

    app.create_user("ada@example.com", vec![]).await?;
    let ada = app.token_of("ada@example.com").await?;
    let path = format!("/api/v1/jobs/{id}");
    assert_eq!(
        call(app, Method::GET, &path, &ada).await?.0,
        StatusCode::FORBIDDEN
    );
    Ok(())
}

async fn a_queued_job_is_cancelled_once(app: &impl AuthSystem) -> anyhow::Result<()> {
    let root = admin(app).await?;
    let id = job_in(app, JobStatus::Queued, 0).await?;
    let path = format!("/api/v1/jobs/{id}/cancel");
    let (status, body) = call(app, Method::POST, &path, &root).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["job"]["status"], "cancelled");
    let (again, body) = call(app, Method::POST, &path, &root).await?;
    assert_eq!(again, StatusCode::CONFLICT);
    assert_eq!(body["code"], "invalid_state");
    Ok(())
}

async fn a_dead_job_is_queued_again_and_a_queued_one_is_not_retried(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let root = admin(app).await?;
    let dead = job_in(app, JobStatus::Dead, 3).await?;
    let (status, body) = call(
        app,
        Method::POST,
        &format!("/api/v1/jobs/{dead}/retry"),
        &root,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["job"]["status"], "queued");
    assert_eq!(body["job"]["attempts"], 0);

    let queued = job_in(app, JobStatus::Queued, 0).await?;
    let path = format!("/api/v1/jobs/{queued}/retry");
    let (refused, body) = call(app, Method::POST, &path, &root).await?;
    assert_eq!(refused, StatusCode::CONFLICT);
    assert_eq!(body["code"], "invalid_state");
    Ok(())
}

on_both_systems!(
    a_reader_of_jobs_reads_one_and_no_one_else_does,
    a_queued_job_is_cancelled_once,
    a_dead_job_is_queued_again_and_a_queued_one_is_not_retried,
);
