//! The sample events in events/: one per function of the table, named after it, each a
//! well-formed event of its trigger's real type, and answered by its function.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Context, bail};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use functions::wiring::{FUNCTIONS, Function, Trigger};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// The sample of a function: `events/<name>.json`.
fn sample_name(function: &Function) -> String {
    format!("{}.json", function.name)
}

fn read(name: &str) -> anyhow::Result<String> {
    let path = events_dir().join(name);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// Decodes a function's sample into the type its handler receives.
fn decode(function: &Function) -> anyhow::Result<()> {
    let text = read(&sample_name(function))?;
    match function.trigger() {
        Trigger::Http(_) => {
            lambda_http::request::from_str(&text)?;
        }
        Trigger::Queue { .. } => {
            serde_json::from_str::<SqsEvent>(&text)?;
        }
        Trigger::Stream => {
            serde_json::from_str::<StreamEvent>(&text)?;
        }
        Trigger::Schedule { .. } => {
            serde_json::from_str::<EventBridgeEvent>(&text)?;
        }
    }
    Ok(())
}

#[test]
fn every_function_has_its_sample_and_every_sample_its_function() -> anyhow::Result<()> {
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(events_dir()).context("listing events/")? {
        on_disk.insert(entry?.file_name().to_string_lossy().into_owned());
    }
    let declared: BTreeSet<String> = FUNCTIONS.iter().map(sample_name).collect();
    let missing: Vec<_> = declared.difference(&on_disk).collect();
    let stray: Vec<_> = on_disk.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "functions of functions/src/wiring without their sample event in events/: {missing:?}"
    );
    assert!(
        stray.is_empty(),
        "events/ files named after no function of functions/src/wiring: {stray:?}"
    );
    Ok(())
}

#[test]
fn every_sample_deserializes_into_its_functions_event_type() {
    let failures: Vec<String> = FUNCTIONS
        .iter()
        .filter_map(|function| {
            decode(function).err().map(|e| {
                format!(
                    "events/{} as a {:?} event: {e:#}",
                    sample_name(function),
                    function.trigger()
                )
            })
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
fn every_http_sample_is_a_request_on_its_functions_route() -> anyhow::Result<()> {
    for function in FUNCTIONS {
        let Trigger::Http(route) = function.trigger() else {
            continue;
        };
        let (method, path) = (route.method, route.path);
        let name = sample_name(function);
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
    let event: StreamEvent = serde_json::from_str(&read("relay.json")?)?;
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
fn every_schedule_sample_is_an_eventbridge_scheduled_event() -> anyhow::Result<()> {
    for function in FUNCTIONS {
        if let Trigger::Schedule { .. } = function.trigger() {
            let name = sample_name(function);
            let event: EventBridgeEvent = serde_json::from_str(&read(&name)?)?;
            assert_eq!(event.detail_type, "Scheduled Event", "events/{name}");
            assert_eq!(event.source, "aws.events", "events/{name}");
        }
    }
    Ok(())
}

/// The sample events, fed to the functions they are samples of, each built as its Lambda main
/// builds it.
mod fed_to_their_functions {
    use anyhow::Context as _;
    use chrono::TimeDelta;
    use functions::wiring::lambda::build_http_app;
    use functions::wiring::{self, FUNCTIONS, Trigger};
    use infra::compose::Backend as _;
    use shared::accounts::ClientInfo;
    use shared::jobs::job::{Job, JobStatus};
    use shared::jobs::repo::{JobRepo, insert_write};
    use shared::store::{Item, Key};

    use super::{read, sample_name};
    use crate::http::lambda::invoke;

    const PASSWORD: &str = "correct horse battery staple";

    /// Every HTTP sample, answered by its function over a local backend holding the account the
    /// samples name (a verified administrator, with the samples' password). `ACCESS_TOKEN` in a sample stands for
    /// a token of a fresh login. The auth samples get the status their account state calls for;
    /// any other function's sample must reach its handler (not 403, 404, 405 or a 5xx).
    /// `USER_ID` stands for the account's id, `JOB_ID` for a queued job's.
    #[tokio::test]
    async fn every_http_sample_is_answered_by_its_function() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = tests::local::identity_backend(dir.path()).await?;
        let accounts = backend.accounts()?;
        let issuer = backend.token_issuer()?;
        // An administrator, so the samples of administrators' endpoints reach their handlers.
        let mut account = tests::local::new_account("ada@example.com", PASSWORD, true)?;
        account.extra_roles = vec![shared::rbac::model::seeded_role_id(
            shared::rbac::seed::ADMIN,
        )];
        let ada = accounts.create(account).await?;
        let job = shared::jobs::enqueue(
            backend.store()?.as_ref(),
            backend.clock().as_ref(),
            backend.random().as_ref(),
            shared::jobs::NewJob::of(&functions::maintenance::purge_expired::PurgeRequest {})?,
        )
        .await?;

        // In an order where each sample finds the account as it expects; the rest follow.
        let expected = [
            ("health", 200),
            ("jwks", 200),
            ("openapi", 200),
            ("docs", 200),
            ("register", 409),
            ("verify_email", 400),
            ("resend_verification", 202),
            ("login", 200),
            ("refresh", 401),
            ("reset_password", 202),
            ("confirm_reset", 400),
            ("profile", 200),
            ("permissions", 200),
            ("sessions", 200),
            ("create_user", 201),
            ("list_users", 200),
            ("get_user", 200),
            ("update_user", 200),
            ("upload_avatar", 200),
            ("user_roles", 200),
            ("create_job", 202),
            ("list_jobs", 200),
            ("get_job", 200),
            ("cancel_job", 200),
            // Cancelled just before: it cannot be retried.
            ("retry_job", 409),
            ("assign_role", 201),
            ("revoke_role", 204),
            ("list_roles", 200),
            ("create_role", 201),
            ("get_role", 200),
            ("update_role", 200),
            ("set_role_permissions", 200),
            // Seeded: the samples name MODERATOR and users:read.
            ("delete_role", 409),
            ("list_permissions", 200),
            ("create_permission", 201),
            ("get_permission", 200),
            ("update_permission", 200),
            ("delete_permission", 409),
            // The samples' account is the only administrator: it stays.
            ("delete_user", 409),
            ("delete_session", 404),
            ("logout", 204),
            ("logout_all", 204),
            ("change_password", 204),
        ];
        let mut functions: Vec<_> = FUNCTIONS.iter().filter(|f| f.route().is_some()).collect();
        functions.sort_by_key(|f| {
            expected
                .iter()
                .position(|(name, _)| *name == f.name)
                .unwrap_or(usize::MAX)
        });
        for function in functions {
            let signed_in = accounts
                .login(&issuer, "ada@example.com", PASSWORD, &ClientInfo::default())
                .await?;
            let name = sample_name(function);
            let sample = read(&name)?
                .replace("ACCESS_TOKEN", &signed_in.access.token)
                .replace("USER_ID", &ada.id.to_string())
                .replace("JOB_ID", &job.id.to_string());
            let app = build_http_app(function, &backend)?;
            let (parts, body) = invoke(app, &sample).await?;
            let status = parts.status.as_u16();
            match expected.iter().find(|(n, _)| *n == function.name) {
                Some((_, wanted)) => assert_eq!(status, *wanted, "events/{name}: {body}"),
                None => assert!(
                    ![403, 404, 405].contains(&status) && status < 500,
                    "events/{name} did not reach its handler: {status} {body}"
                ),
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn the_jwks_sample_gets_the_key_set_of_its_backend() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = tests::local::identity_backend(dir.path()).await?;
        let secrets = backend.secrets()?;
        let name = &backend.settings().signing_keys_secret;
        let set = shared::auth::keys::KeySet::load(secrets.as_ref(), name).await?;
        let app = build_http_app(&wiring::JWKS, &backend)?;
        let (parts, body) = invoke(app, &read("jwks.json")?).await?;
        assert_eq!(parts.status, 200);
        assert_eq!(body["keys"][0]["kid"], set.current().kid.as_str());
        Ok(())
    }

    #[tokio::test]
    async fn every_schedule_sample_runs_its_function() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = tests::local::identity_backend(dir.path()).await?;
        for function in FUNCTIONS {
            if let Trigger::Schedule { .. } = function.trigger() {
                let name = sample_name(function);
                let report = function
                    .schedule_handler(&backend)?
                    .handle(serde_json::from_str(&read(&name)?)?)
                    .await
                    .with_context(|| format!("events/{name}"))?;
                assert!(report.is_object(), "events/{name}: {report}");
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn the_purge_expired_sample_removes_expired_items() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = tests::local::identity_backend(dir.path()).await?;
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

        let handler = wiring::PURGE_EXPIRED.schedule_handler(&backend)?;
        let report = handler
            .handle(serde_json::from_str(&read("purge_expired.json")?)?)
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
    async fn the_worker_sample_is_run_by_the_worker() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = tests::local::identity_backend(dir.path()).await?;
        let store = backend.store()?;
        let event: aws_lambda_events::sqs::SqsEvent = serde_json::from_str(&read("worker.json")?)?;
        let now = backend.clock().now();
        let mut ids = Vec::new();
        for record in &event.records {
            let body: serde_json::Value = serde_json::from_str(record.body.as_deref().unwrap())?;
            let id = body["job_id"].as_str().unwrap().parse()?;
            let job = Job::new(id, "purge_expired", serde_json::json!({}), 3, now, now);
            store.transact(vec![insert_write(&job)?]).await?;
            ids.push(id);
        }

        let response = wiring::WORKER
            .queue_handler(&backend)?
            .handle(event)
            .await?;

        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        let repo = JobRepo::new(store);
        for id in ids {
            let job = repo.get(id).await?.unwrap();
            assert_eq!(
                (job.status, job.attempts),
                (JobStatus::Succeeded, 1),
                "job {id}"
            );
        }
        Ok(())
    }
}
