//! Races that must have exactly one winner.

use reqwest::StatusCode;
use serde_json::json;

use super::{AuthSystem, PASSWORD, on_both_systems, refresh_token};

/// Sends `n` copies of a request at once; their statuses in completion order.
async fn all_at_once(
    request: reqwest::RequestBuilder,
    n: usize,
) -> anyhow::Result<Vec<StatusCode>> {
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..n {
        let request = request
            .try_clone()
            .ok_or_else(|| anyhow::anyhow!("a streaming body"))?;
        running.spawn(async move { request.send().await.map(|r| r.status()) });
    }
    let mut statuses = Vec::with_capacity(n);
    while let Some(status) = running.join_next().await {
        statuses.push(status??);
    }
    Ok(statuses)
}

async fn concurrent_registrations_of_one_address_create_one_account(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let url = app.url("/api/v1/auth/register");
    let body = json!({"email": "race@example.com", "name": "Race", "password": PASSWORD});
    let statuses = all_at_once(app.client().post(&url).json(&body), 100).await?;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    // The others lost the race on the address, or were turned away by the per-address limit.
    assert!(
        statuses.iter().all(|s| [
            StatusCode::CREATED,
            StatusCode::CONFLICT,
            StatusCode::TOO_MANY_REQUESTS
        ]
        .contains(s)),
        "{statuses:?}"
    );
    Ok(())
}

async fn fifty_concurrent_refreshes_of_one_token_have_exactly_one_successor(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let login = app.signed_up("twins@example.com").await?;
    let url = app.url("/api/v1/auth/refresh");
    let body = json!({"refresh_token": refresh_token(&login)});
    let statuses = all_at_once(app.client().post(&url).json(&body), 50).await?;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::OK, StatusCode::UNAUTHORIZED].contains(s))
    );
    Ok(())
}

on_both_systems!(
    concurrent_registrations_of_one_address_create_one_account,
    fifty_concurrent_refreshes_of_one_token_have_exactly_one_successor,
);
