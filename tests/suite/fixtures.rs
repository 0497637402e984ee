//! The sample events in events/: each is a well-formed event of its trigger's real type.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Context, bail, ensure};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use functions::catalog::{FUNCTIONS, Trigger};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

/// What a file in events/ holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An API Gateway HTTP API (payload 2.0) request; the file is named after its function.
    HttpRequest,
    Sqs,
    DynamoDbStream,
    Schedule,
}

/// Every sample event. A file in events/ that is not listed here fails
/// [`every_file_in_events_is_listed_with_its_kind`], so none goes unchecked.
const EVENTS: &[(&str, Kind)] = &[
    ("health.json", Kind::HttpRequest),
    ("jwks.json", Kind::HttpRequest),
    ("register.json", Kind::HttpRequest),
    ("verify_email.json", Kind::HttpRequest),
    ("resend_verification.json", Kind::HttpRequest),
    ("login.json", Kind::HttpRequest),
    ("refresh.json", Kind::HttpRequest),
    ("logout.json", Kind::HttpRequest),
    ("logout_all.json", Kind::HttpRequest),
    ("reset_password.json", Kind::HttpRequest),
    ("confirm_reset.json", Kind::HttpRequest),
    ("change_password.json", Kind::HttpRequest),
    ("profile.json", Kind::HttpRequest),
    ("permissions.json", Kind::HttpRequest),
    ("sessions.json", Kind::HttpRequest),
    ("delete_session.json", Kind::HttpRequest),
    ("sqs-jobs.json", Kind::Sqs),
    ("sqs-events.json", Kind::Sqs),
    ("dynamodb-stream.json", Kind::DynamoDbStream),
    ("schedule.json", Kind::Schedule),
];

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn read(name: &str) -> anyhow::Result<String> {
    let path = events_dir().join(name);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// Decodes a sample into the type its handler receives.
fn decode(name: &str, kind: Kind) -> anyhow::Result<()> {
    let text = read(name)?;
    match kind {
        Kind::HttpRequest => {
            lambda_http::request::from_str(&text)?;
        }
        Kind::Sqs => {
            serde_json::from_str::<SqsEvent>(&text)?;
        }
        Kind::DynamoDbStream => {
            serde_json::from_str::<StreamEvent>(&text)?;
        }
        Kind::Schedule => {
            serde_json::from_str::<EventBridgeEvent>(&text)?;
        }
    }
    Ok(())
}

#[test]
fn every_file_in_events_is_listed_with_its_kind() -> anyhow::Result<()> {
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(events_dir()).context("listing events/")? {
        on_disk.insert(entry?.file_name().to_string_lossy().into_owned());
    }
    let listed: BTreeSet<String> = EVENTS.iter().map(|(name, _)| (*name).to_owned()).collect();
    let unlisted: Vec<_> = on_disk.difference(&listed).collect();
    let absent: Vec<_> = listed.difference(&on_disk).collect();
    assert!(
        unlisted.is_empty(),
        "events/ files without a kind in tests/suite/fixtures.rs: {unlisted:?}"
    );
    assert!(
        absent.is_empty(),
        "listed in tests/suite/fixtures.rs but not in events/: {absent:?}"
    );
    Ok(())
}

#[test]
fn every_event_deserializes_into_its_lambda_type() {
    let failures: Vec<String> = EVENTS
        .iter()
        .filter_map(|&(name, kind)| {
            decode(name, kind)
                .err()
                .map(|e| format!("events/{name} as {kind:?}: {e:#}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether a request path is on a route, whose `{param}` segments match any one segment.
fn on_route(raw: &str, route: &str) -> bool {
    let (raw, route): (Vec<&str>, Vec<&str>) =
        (raw.split('/').collect(), route.split('/').collect());
    raw.len() == route.len()
        && raw.iter().zip(&route).all(|(segment, pattern)| {
            segment == pattern
                || (pattern.starts_with('{') && pattern.ends_with('}') && !segment.is_empty())
        })
}

#[test]
fn every_http_function_has_a_sample_request_on_its_route() -> anyhow::Result<()> {
    for function in FUNCTIONS {
        let Trigger::Http { method, path } = function.trigger else {
            continue;
        };
        let name = format!("{}.json", function.name);
        ensure!(
            EVENTS.contains(&(name.as_str(), Kind::HttpRequest)),
            "no HTTP request sample events/{name}"
        );
        let request = lambda_http::request::from_str(&read(&name)?)?;

        assert_eq!(request.method().as_str(), method, "events/{name}");
        assert!(
            on_route(request.raw_http_path(), path),
            "events/{name}: {} is not on {path}",
            request.raw_http_path()
        );
        let RequestContext::ApiGatewayV2(context) = request.request_context() else {
            bail!("events/{name} is not an HTTP API (payload 2.0) request")
        };
        assert_eq!(
            context.route_key.as_deref(),
            Some(format!("{method} {path}").as_str()),
            "events/{name}"
        );
        assert!(
            context.request_id.is_some(),
            "events/{name} has no requestContext.requestId"
        );
        assert!(
            context.http.source_ip.is_some(),
            "events/{name} has no requestContext.http.sourceIp"
        );
    }
    Ok(())
}

#[test]
fn the_stream_sample_inserts_modifies_and_removes_items_in_the_tables_wire_form()
-> anyhow::Result<()> {
    let event: StreamEvent = serde_json::from_str(&read("dynamodb-stream.json")?)?;
    let names: Vec<&str> = event
        .records
        .iter()
        .map(|r| r.event_name.as_str())
        .collect();
    // A user and its outbox event inserted in one transaction, then a change, then an expiry.
    assert_eq!(names, ["INSERT", "INSERT", "MODIFY", "REMOVE"]);
    for record in &event.records {
        let change = &record.change;
        let (has_old, has_new) = match record.event_name.as_str() {
            "INSERT" => (false, true),
            "MODIFY" => (true, true),
            _ => (true, false),
        };
        assert_eq!(
            !change.old_image.is_empty(),
            has_old,
            "{} old image",
            record.event_name
        );
        assert_eq!(
            !change.new_image.is_empty(),
            has_new,
            "{} new image",
            record.event_name
        );
        for image in [&change.old_image, &change.new_image]
            .into_iter()
            .filter(|i| !i.is_empty())
        {
            let item = shared::store::wire::from_image(image.clone()).with_context(|| {
                format!("{} image is not an item in wire form", record.event_name)
            })?;
            let keys = shared::store::wire::from_image(change.keys.clone())
                .context("Keys hold pk and sk")?;
            assert_eq!(
                item.key, keys.key,
                "{}: Keys and image disagree",
                record.event_name
            );
        }
    }
    Ok(())
}

#[test]
fn the_schedule_sample_is_an_eventbridge_scheduled_event() -> anyhow::Result<()> {
    let event: EventBridgeEvent = serde_json::from_str(&read("schedule.json")?)?;
    assert_eq!(event.detail_type, "Scheduled Event");
    assert_eq!(event.source, "aws.events");
    Ok(())
}

/// The sample events, fed to the handlers they are samples for.
mod fed_to_their_handlers {
    use std::sync::Arc;

    use chrono::TimeDelta;
    use functions::auth::jwks::{self, PublicKeys};
    use functions::event::{ScheduleHandler, SqsHandler};
    use functions::http::app;
    use functions::jobs::worker::Worker;
    use functions::maintenance::purge_expired::PurgeExpired;
    use functions::system::health;
    use infra::compose::Backend;
    use infra::config::LocalConfig;
    use shared::auth::keys::KeySet;
    use shared::clock::OsRandom;
    use shared::jobs::job::{Job, JobStatus};
    use shared::jobs::repo::{JobRepo, insert_write};
    use shared::store::{Item, Key};

    use super::read;
    use crate::http::lambda::invoke;

    async fn local_backend(dir: &tempfile::TempDir) -> anyhow::Result<Backend> {
        Backend::local(LocalConfig::new(dir.path(), "http://127.0.0.1:3000")).await
    }

    #[tokio::test]
    async fn events_health_json_is_answered_by_the_health_function() -> anyhow::Result<()> {
        let (parts, body) = invoke(app(health::router()), &read("health.json")?).await?;
        assert_eq!(parts.status, 200);
        assert_eq!(body["status"], "ok");
        Ok(())
    }

    #[tokio::test]
    async fn events_jwks_json_is_answered_by_the_jwks_function() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = local_backend(&dir).await?;
        let secrets = backend.secrets()?;
        let name = backend.signing_keys_secret();
        let set = KeySet::load_or_create(secrets.as_ref(), name, backend.clock().now(), &OsRandom)
            .await?;

        let keys = PublicKeys::new(secrets, name);
        let (parts, body) = invoke(app(jwks::router(keys)), &read("jwks.json")?).await?;
        assert_eq!(parts.status, 200);
        assert_eq!(body["keys"][0]["kid"], set.current().kid.as_str());
        Ok(())
    }

    #[tokio::test]
    async fn events_schedule_json_makes_purge_expired_remove_expired_items() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = local_backend(&dir).await?;
        let store = backend.store()?;
        let now = backend.clock().now();
        let expired = Key::new("SESSION#fixture", "S");
        let live = Key::new("SESSION#live", "S");
        store
            .put(
                Item::new(expired.clone(), Default::default())
                    .expiring_at(now - TimeDelta::seconds(5)),
                None,
            )
            .await?;
        store
            .put(
                Item::new(live.clone(), Default::default()).expiring_at(now + TimeDelta::hours(1)),
                None,
            )
            .await?;

        let handler = PurgeExpired::new(Arc::clone(&store));
        let report = handler
            .handle(serde_json::from_str(&read("schedule.json")?)?)
            .await?;

        assert_eq!(report["removed"], 1, "{report}");
        assert!(store.get(&live).await?.is_some());
        let page = store
            .query(shared::store::Query::partition("SESSION#fixture"))
            .await?;
        assert!(page.items.is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn events_sqs_jobs_json_is_run_by_the_worker() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = local_backend(&dir).await?;
        let store = backend.store()?;
        let event: aws_lambda_events::sqs::SqsEvent =
            serde_json::from_str(&read("sqs-jobs.json")?)?;
        let now = backend.clock().now();
        let mut ids = Vec::new();
        for record in &event.records {
            let body: serde_json::Value =
                serde_json::from_str(record.body.as_deref().unwrap_or_default())?;
            let id = body["job_id"].as_str().unwrap_or_default().parse()?;
            let job = Job::new(id, "purge_expired", serde_json::json!({}), 3, now, now);
            store.transact(vec![insert_write(&job)?]).await?;
            ids.push(id);
        }

        let response = Worker::from_backend(&backend)?.handle(event).await?;

        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        let repo = JobRepo::new(store);
        for id in ids {
            let job = repo
                .get(id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("job {id} is gone"))?;
            assert_eq!(
                (job.status, job.attempts),
                (JobStatus::Succeeded, 1),
                "job {id}"
            );
        }
        Ok(())
    }

    /// The auth samples, answered by their functions over a local backend holding the account
    /// the samples name (verified, with the samples' password). `ACCESS_TOKEN` in a sample
    /// stands for a token of a fresh login.
    #[tokio::test]
    async fn events_of_the_auth_functions_are_answered_by_their_functions() -> anyhow::Result<()> {
        use shared::accounts::ClientInfo;

        const PASSWORD: &str = "correct horse battery staple";
        let dir = tempfile::tempdir()?;
        let backend = tests::local::identity_backend(dir.path()).await?;
        let accounts = backend.accounts()?;
        let issuer = backend.token_issuer()?;
        accounts
            .create(tests::local::new_account(
                "ada@example.com",
                PASSWORD,
                true,
            )?)
            .await?;
        let app = app(functions::api::router(&backend)?);

        // In an order where each sample finds the account as it expects.
        let expected = [
            ("register.json", 409),
            ("verify_email.json", 400),
            ("resend_verification.json", 202),
            ("login.json", 200),
            ("refresh.json", 401),
            ("reset_password.json", 202),
            ("confirm_reset.json", 400),
            ("profile.json", 200),
            ("permissions.json", 200),
            ("sessions.json", 200),
            ("delete_session.json", 404),
            ("logout.json", 204),
            ("logout_all.json", 204),
            ("change_password.json", 204),
        ];
        for (name, status) in expected {
            let signed_in = accounts
                .login(&issuer, "ada@example.com", PASSWORD, &ClientInfo::default())
                .await?;
            let sample = read(name)?.replace("ACCESS_TOKEN", &signed_in.access.token);
            let (parts, body) = invoke(app.clone(), &sample).await?;
            assert_eq!(parts.status, status, "events/{name}: {body}");
        }
        Ok(())
    }
}
