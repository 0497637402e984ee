//! `POST /api/v1/jobs` and `GET /api/v1/jobs` over real HTTP, on both systems: only creatable
//! types are created, a created job runs, and lists filter by status and type behind sealed
//! cursors.

use std::collections::BTreeSet;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::jobs::repo::insert_write;
use shared::jobs::{Job, JobStatus};
use uuid::Uuid;

use crate::auth::{AuthSystem, on_both_systems};
use crate::conformance::eventually;
use crate::rbac::{admin, send};

async fn only_creatable_types_are_created_and_a_created_job_runs(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (_, root) = admin(app, "root@example.com").await?;
    for (body, field) in [
        (json!({"type": "send_email", "payload": {}}), "type"),
        (json!({"type": "erase_user", "payload": {}}), "type"),
        (json!({"type": "no_such_type"}), "type"),
        (
            json!({"type": "purge_expired", "payload": {"junk": 1}}),
            "payload",
        ),
        (
            json!({"type": "purge_expired", "delay_seconds": 901}),
            "delay_seconds",
        ),
    ] {
        let (status, problem) =
            send(app, Method::POST, "/api/v1/jobs", &root, Some(body.clone())).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let body = json!({"type": "purge_expired", "payload": {}});
    let (status, created) = send(app, Method::POST, "/api/v1/jobs", &root, Some(body)).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["job"]["status"], "queued");
    let path = format!("/api/v1/jobs/{}", created["job"]["id"].as_str().unwrap());
    eventually("the created job succeeds", || async {
        app.step_background().await?;
        let (_, job) = send(app, Method::GET, &path, &root, None).await?;
        Ok((job["job"]["status"] == "succeeded").then_some(()))
    })
    .await?;

    app.create_user("ada@example.com", vec![]).await?;
    let ada = app.token_of("ada@example.com").await?;
    let body = json!({"type": "purge_expired"});
    let (status, _) = send(app, Method::POST, "/api/v1/jobs", &ada, Some(body)).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(app, Method::GET, "/api/v1/jobs", &ada, None).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    Ok(())
}

/// Stores a job far in the future (no worker runs it during the case).
async fn stored(app: &impl AuthSystem, job_type: &str, status: JobStatus) -> anyhow::Result<Uuid> {
    let now = Utc::now();
    let job = Job {
        status,
        ..Job::new(
            Uuid::now_v7(),
            job_type,
            json!({}),
            3,
            now,
            now + chrono::TimeDelta::days(1),
        )
    };
    app.store()
        .await?
        .transact(vec![insert_write(&job)?])
        .await?;
    Ok(job.id)
}

async fn every_page(
    app: &impl AuthSystem,
    token: &str,
    query: &str,
) -> anyhow::Result<Vec<String>> {
    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    for _ in 0..50 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/jobs?{query}&cursor={c}"),
            None => format!("/api/v1/jobs?{query}"),
        };
        let (status, page) = send(app, Method::GET, &path, token, None).await?;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(ids),
        }
    }
    anyhow::bail!("the pages of {query} do not end")
}

fn set(ids: &[Uuid]) -> BTreeSet<String> {
    ids.iter().map(ToString::to_string).collect()
}

async fn lists_filter_by_status_and_type(app: &impl AuthSystem) -> anyhow::Result<()> {
    let (_, root) = admin(app, "root@example.com").await?;
    let mut dead_purges = Vec::new();
    let mut failed_cleanups = Vec::new();
    for _ in 0..6 {
        dead_purges.push(stored(app, "purge_expired", JobStatus::Dead).await?);
        failed_cleanups.push(stored(app, "cleanup_unverified_users", JobStatus::Failed).await?);
    }
    let dead = every_page(app, &root, "status=dead&limit=4").await?;
    assert_eq!(
        dead.iter().cloned().collect::<BTreeSet<_>>(),
        set(&dead_purges)
    );
    assert_eq!(dead.len(), 6, "a job twice: {dead:?}");
    let cleanups = every_page(app, &root, "type=cleanup_unverified_users&limit=5").await?;
    assert_eq!(
        cleanups.iter().cloned().collect::<BTreeSet<_>>(),
        set(&failed_cleanups)
    );
    let both = every_page(app, &root, "type=purge_expired&status=failed&limit=5").await?;
    assert!(both.is_empty(), "{both:?}");
    let all = every_page(app, &root, "limit=5").await?;
    for id in dead_purges.iter().chain(&failed_cleanups) {
        assert!(
            all.contains(&id.to_string()),
            "{id} missing from the full list"
        );
    }

    for query in ["status=lost", "limit=0", "type=Bad-Type", "order=asc"] {
        let (status, _) = send(
            app,
            Method::GET,
            &format!("/api/v1/jobs?{query}"),
            &root,
            None,
        )
        .await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
    }
    let (_, page) = send(
        app,
        Method::GET,
        "/api/v1/jobs?status=dead&limit=2",
        &root,
        None,
    )
    .await?;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, problem): (StatusCode, Value) = send(
        app,
        Method::GET,
        &format!("/api/v1/jobs?status=failed&limit=2&cursor={cursor}"),
        &root,
        None,
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], "invalid_cursor");
    Ok(())
}

on_both_systems!(
    only_creatable_types_are_created_and_a_created_job_runs,
    lists_filter_by_status_and_type,
);
