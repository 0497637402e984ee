//! The metrics the dashboard and alarms read, as the Embedded Metric Format lines the
//! functions write: a tour of requests, logins, a registration (its event relayed, its mail
//! sent) and jobs that succeed and die, then one flush read back.

use std::collections::BTreeSet;

use functions::telemetry::metrics;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::jobs::{JobStatus, NewJob};

use crate::auth::PASSWORD;
use crate::jobs::{Flaky, FlakyPayload, Pipeline};

/// Every metric of the lines, as `Name` or `Name{Dimension=value,...}` (dimensions sorted, the
/// function's own left out).
fn metrics_of(lines: &str) -> anyhow::Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let document: Value = serde_json::from_str(line)?;
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        let dimensions: Vec<String> = directive["Dimensions"][0]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|d| *d != "FunctionName")
            .map(|d| format!("{d}={}", document[d].as_str().unwrap_or_default()))
            .collect();
        for metric in directive["Metrics"].as_array().into_iter().flatten() {
            let name = metric["Name"].as_str().unwrap_or_default();
            assert!(document.get(name).is_some(), "{name} has no value: {line}");
            let mut dimensions = dimensions.clone();
            dimensions.sort();
            found.insert(if dimensions.is_empty() {
                name.to_owned()
            } else {
                format!("{name}{{{}}}", dimensions.join(","))
            });
        }
    }
    Ok(found)
}

#[tokio::test]
async fn requests_logins_registrations_jobs_and_the_relay_write_their_metrics() -> anyhow::Result<()>
{
    let collector = metrics::install().expect("no other recorder in the suite");
    let app = tests::app::spawn_app().await?;

    let ada = json!({"email": "ada@example.com", "name": "Ada", "password": PASSWORD});
    let registered = app.post_json("/api/v1/auth/register", &ada).await?;
    assert_eq!(registered.status(), StatusCode::CREATED);
    // The registration's event goes through the relay before its mail is sent.
    let token = crate::conformance::eventually("the verification mail", || async {
        let mails = app.mailbox().await?;
        Ok(mails.iter().find_map(|m| {
            crate::auth::link_token(m["text"].as_str().unwrap_or_default(), "verify-email")
        }))
    })
    .await?;
    let verified = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await?;
    assert_eq!(verified.status(), StatusCode::OK);
    let client = &app;
    let login = |password: &str| {
        let body = json!({"email": "ada@example.com", "password": password});
        async move { client.post_json("/api/v1/auth/login", &body).await }
    };
    assert_eq!(login(PASSWORD).await?.status(), StatusCode::OK);
    let mut throttled = false;
    for _ in 0..30 {
        let status = login("not the password").await?.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert!(throttled, "wrong passwords were never throttled");

    let flaky = Flaky::default();
    let jobs = Pipeline::start(|r| r.with(flaky.clone())).await?;
    for (key, fail_first, status) in [
        ("ok", 0, JobStatus::Succeeded),
        ("never", 1000, JobStatus::Dead),
    ] {
        let job = jobs
            .enqueue(NewJob::of(&FlakyPayload::new(key, fail_first))?)
            .await?;
        let done = jobs.run_until(job.id, |j| j.status.is_final()).await?;
        assert_eq!(done.status, status);
    }

    let mut lines = Vec::new();
    collector.flush(&mut lines)?;
    app.stop().await?;
    let found = metrics_of(&String::from_utf8(lines)?)?;
    for expected in [
        "Requests{Endpoint=POST /api/v1/auth/login,StatusClass=2xx}",
        "Requests{Endpoint=POST /api/v1/auth/login,StatusClass=4xx}",
        "Requests{Endpoint=POST /api/v1/auth/register,StatusClass=2xx}",
        "Latency{Endpoint=POST /api/v1/auth/login}",
        "Logins{Outcome=ok}",
        "Logins{Outcome=failed}",
        "Logins{Outcome=throttled}",
        "Registrations",
        "Jobs{JobType=flaky,Status=succeeded}",
        "Jobs{JobType=flaky,Status=failed}",
        "Jobs{JobType=flaky,Status=dead}",
        "Jobs{JobType=send_email,Status=succeeded}",
        "DeadLettered{Queue=jobs}",
        "RelayLag",
    ] {
        assert!(found.contains(expected), "no {expected} among {found:#?}");
    }
    Ok(())
}
