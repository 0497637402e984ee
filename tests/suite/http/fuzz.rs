//! The HTTP API fuzzed from its OpenAPI document: schemathesis generates requests for every
//! operation of `functions/openapi.json`, valid and invalid, sends them to the local system as
//! an administrator and as a plain user, and checks every answer against the document: never a
//! 5xx, a documented status, content type and headers, a body matching its schema (and the
//! rest of [`CHECKS`]).
//!
//! `FUZZ_EXAMPLES` sets the examples generated per operation and phase (a bounded number by
//! default, so the suite stays short); README gives the full run's command and figures. A run
//! longer than an access token's 15 minutes would see its later cases answered 401.
//! `FUZZ_SEED` replays a run with the seed it printed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail, ensure};
use local_system::options::BootstrapAdmin;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::auth::password::Password;
use shared::users::Email;
use tests::app::{TestApp, spawn_app_with};

use crate::auth::PASSWORD;

const ADMIN_EMAIL: &str = "root@example.com";
const USER_EMAIL: &str = "plain@example.com";
/// Examples per operation and phase when `FUZZ_EXAMPLES` is unset.
const BOUNDED_EXAMPLES: u32 = 25;
/// What every answer is checked for: besides conformance to the document, that a request
/// without its credentials is refused, that an operation answers 405 to a method it lacks, that
/// a deleted resource is gone and a created one there, and that a request the document calls
/// invalid is refused. (Not `positive_data_acceptance`: the fuzzer reuses one Idempotency-Key
/// across different bodies, which is a 422 by design.)
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance,ignored_auth,\
                      unsupported_method,use_after_free,ensure_resource_availability,\
                      negative_data_rejection";
/// The operations that end the caller's own session: logging out, logging out everywhere, and
/// changing the password (its throttle ends the session after repeated wrong current
/// passwords, which is all a fuzzer sends). Fuzzed in a run of their own after every other
/// operation, so they cannot leave the rest answered 401 without reaching the code under test;
/// their own cases after the session ended still get their answers checked.
const SESSION_ENDING: [&str; 3] = ["logout", "logout_all", "change_password"];

#[derive(Debug, Clone, Copy)]
enum Role {
    Admin,
    User,
}

/// What one schemathesis run reported.
#[derive(Debug, Default)]
struct Figures {
    /// Operations of the document the run tested, and how many it has.
    operations: u64,
    documented: u64,
    generated: u64,
    server_errors: u64,
    violations: u64,
    /// Each kind of failure: its title, count and operations.
    failures: Vec<String>,
    /// The seed of each run, to replay it.
    seeds: Vec<String>,
    /// Cases schemathesis could not run (network errors, hook errors, ...).
    errors: Vec<String>,
}

impl Figures {
    fn add(&mut self, other: Figures) {
        self.operations += other.operations;
        self.documented = self.documented.max(other.documented);
        self.generated += other.generated;
        self.server_errors += other.server_errors;
        self.violations += other.violations;
        self.failures.extend(other.failures);
        self.seeds.extend(other.seeds);
        self.errors.extend(other.errors);
    }
}

fn openapi_document() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/openapi.json")
}

fn hooks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/hooks.py")
}

fn examples() -> anyhow::Result<u32> {
    match std::env::var("FUZZ_EXAMPLES") {
        Ok(value) => value.parse().context("FUZZ_EXAMPLES is not a number"),
        Err(_) => Ok(BOUNDED_EXAMPLES),
    }
}

/// Every identifier in `body`: the fuzzer's own account, sessions, roles and permissions as the
/// API shows them.
fn ids_in(body: &Value, into: &mut Vec<String>) {
    match body {
        Value::Object(fields) => {
            for (name, value) in fields {
                match value {
                    Value::String(id) if name == "id" => into.push(id.clone()),
                    _ => ids_in(value, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| ids_in(item, into)),
        _ => {}
    }
}

async fn login(app: &TestApp, email: &str, password: &str) -> anyhow::Result<String> {
    let login = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await?;
    ensure!(login.status() == StatusCode::OK, "login of {email} failed");
    let login: Value = login.json().await?;
    login["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("the login has no access token")
}

async fn get(app: &TestApp, token: &str, path: &str) -> anyhow::Result<Value> {
    Ok(app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// A local system with an administrator, and the token of the role to fuzz as with the
/// identifiers that role must leave alone (see `tests/fuzz/hooks.py`).
async fn system_for(role: Role) -> anyhow::Result<(TestApp, String, Vec<String>)> {
    let admin = BootstrapAdmin {
        email: Email::parse(ADMIN_EMAIL)?,
        password: Password::parse(PASSWORD.into())?,
    };
    let app = spawn_app_with(|options| local_system::Options {
        bootstrap_admin: Some(admin),
        ..options
    })
    .await?;
    let admin_token = login(&app, ADMIN_EMAIL, PASSWORD).await?;
    let token = match role {
        Role::Admin => admin_token.clone(),
        Role::User => {
            let created = app
                .client
                .post(app.url("/api/v1/users"))
                .bearer_auth(&admin_token)
                .json(&json!({
                    "email": USER_EMAIL, "name": "Plain", "password": PASSWORD,
                    "email_verified": true,
                }))
                .send()
                .await?;
            ensure!(created.status() == StatusCode::CREATED, "creating the user");
            login(&app, USER_EMAIL, PASSWORD).await?
        }
    };
    // Any caller can end its own session. A plain user cannot disable or delete its own
    // account, nor change the catalog, so it may change everything else of its own: its profile
    // and avatar are fuzzed too. An administrator can do all of that, and leaves it alone.
    let mut protected = Vec::new();
    let paths: &[&str] = match role {
        Role::Admin => &[
            "/api/v1/auth/sessions",
            "/api/v1/auth/profile",
            "/api/v1/roles",
            "/api/v1/permissions",
        ],
        Role::User => &["/api/v1/auth/sessions"],
    };
    for path in paths {
        ids_in(&get(&app, &token, path).await?, &mut protected);
    }
    Ok((app, token, protected))
}

/// Runs schemathesis over the operations `filter` selects, and reads its report.
async fn schemathesis(
    app: &TestApp,
    token: &str,
    protected: &[String],
    filter: &[&str],
    name: &str,
) -> anyhow::Result<Figures> {
    let report = app.data_dir().join(format!("schemathesis-{name}.json"));
    let mut command = Command::new(tests::python::tools()?.join("st"));
    command
        .arg("run")
        .arg(openapi_document())
        .args(["--url", &app.address])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS])
        .args(["--max-examples", &examples()?.to_string()])
        // One worker: concurrent workers share CPython's parser, which on Python 3.11 now and
        // then fails a case with "AST constructor recursion depth mismatch".
        .args(["--workers", "1", "--no-color", "--report", "json"])
        // A machine busy with the rest of the suite makes generating and answering slow, which
        // says nothing about the API: a minute before a request counts as lost, and no health
        // check on how fast the fuzzer itself generates.
        .args([
            "--request-timeout",
            "60",
            "--suppress-health-check",
            "too_slow",
        ])
        .arg("--report-json-path")
        .arg(&report)
        .args(filter)
        .env("SCHEMATHESIS_HOOKS", hooks())
        .env("FUZZ_PROTECTED_IDS", protected.join(","))
        // Its own data (the Hypothesis example database) under the run's data directory.
        .current_dir(app.data_dir());
    if let Ok(seed) = std::env::var("FUZZ_SEED") {
        command.args(["--seed", &seed]);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context("starting schemathesis")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let figures = read_report(&report).with_context(|| {
        format!(
            "schemathesis left no report ({}):\n{text}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    if !output.status.success() {
        // Its own account of every failure, with a curl command to replay each; long lines (a
        // traceback's source dump) cut.
        #[allow(clippy::print_stdout)]
        for line in text.lines() {
            println!("{}", line.chars().take(400).collect::<String>());
        }
    }
    Ok(figures)
}

/// The seed as written: a 128-bit number, which a JSON number read as `f64` would round.
fn seed_of(report: &str) -> String {
    report
        .split_once("\"seed\":")
        .map(|(_, rest)| {
            rest.trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect()
        })
        .unwrap_or_default()
}

fn read_report(path: &Path) -> anyhow::Result<Figures> {
    let text = std::fs::read_to_string(path)?;
    let report: Value = serde_json::from_str(&text)?;
    ensure!(
        report["complete"] == json!(true),
        "the run did not complete: {}",
        report["stop_reason"]
    );
    let mut figures = Figures {
        operations: report["operations"]["tested"]
            .as_u64()
            .context("no count of operations tested")?,
        documented: report["operations"]["total"]
            .as_u64()
            .context("no count of operations")?,
        generated: report["test_cases"]["generated"]
            .as_u64()
            .context("no count of generated cases")?,
        seeds: vec![seed_of(&text)],
        ..Figures::default()
    };
    let failures = report["failures"].as_array().context("no failures list")?;
    for failure in failures {
        let count = failure["count"].as_u64().unwrap_or(1);
        // Failures come grouped under the class of the failed check's finding.
        if failure["type"] == "ServerError" {
            figures.server_errors += count;
        } else {
            figures.violations += count;
        }
        figures.failures.push(format!(
            "{} ({count}): {}",
            failure["title"], failure["operations"]
        ));
    }
    for error in report["errors"].as_array().context("no errors list")? {
        figures.errors.push(error.to_string());
    }
    Ok(figures)
}

async fn fuzz(role: Role) -> anyhow::Result<Figures> {
    let (app, token, protected) = system_for(role).await?;
    let mut excluded = Vec::new();
    let mut included = Vec::new();
    for operation in SESSION_ENDING {
        excluded.extend(["--exclude-operation-id", operation]);
        included.extend(["--include-operation-id", operation]);
    }
    let name = format!("{role:?}").to_lowercase();
    let mut figures = schemathesis(&app, &token, &protected, &excluded, &name).await?;
    // Its credentials and authority outlived every operation but the session-ending ones, so
    // no case of those was turned away unread (unless the run outlasted the token).
    let still = match role {
        Role::Admin => "/api/v1/users",
        Role::User => "/api/v1/auth/profile",
    };
    get(&app, &token, still)
        .await
        .with_context(|| format!("as {role:?}, the fuzzer lost its own access to {still}"))?;
    let ending = schemathesis(
        &app,
        &token,
        &protected,
        &included,
        &format!("{name}-ending"),
    )
    .await?;
    figures.add(ending);
    app.stop().await?;
    // The two runs split the operations between them: together, every one.
    ensure!(
        figures.operations == figures.documented,
        "{role:?} tested {} of {} operations",
        figures.operations,
        figures.documented
    );
    Ok(figures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The suite prints its figures: cases generated, server errors, violations of the document.
#[allow(clippy::print_stdout)]
async fn every_generated_request_is_answered_as_the_openapi_document_says() -> anyhow::Result<()> {
    let mut total = Figures::default();
    for role in [Role::Admin, Role::User] {
        let figures = fuzz(role).await?;
        println!(
            "fuzz as {role:?}: {} operations, {} cases generated, {} server errors, \
             {} spec violations, {} errors (seeds {})",
            figures.operations,
            figures.generated,
            figures.server_errors,
            figures.violations,
            figures.errors.len(),
            figures.seeds.join(", ")
        );
        total.add(figures);
    }
    println!(
        "fuzz: {} cases generated ({} examples per operation and phase), {} server errors, \
         {} spec violations",
        total.generated,
        examples()?,
        total.server_errors,
        total.violations
    );
    for failure in &total.failures {
        println!("failure: {failure}");
    }
    if total.server_errors > 0 || total.violations > 0 || !total.errors.is_empty() {
        bail!(
            "{} server errors, {} spec violations: {:#?}; errors {:#?}",
            total.server_errors,
            total.violations,
            total.failures,
            total.errors
        );
    }
    Ok(())
}

#[test]
fn a_report_counts_server_errors_apart_from_violations_and_an_unfinished_run_is_an_error()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("report.json");
    // The shape schemathesis writes (`--report json`), trimmed to what is read.
    let report = |complete: bool| {
        json!({
            "complete": complete,
            "stop_reason": if complete { "completed" } else { "interrupted" },
            "operations": {"total": 43, "selected": 40, "tested": 40},
            "test_cases": {"generated": 120},
            "failures": [
                {"type": "ServerError", "title": "Server error", "count": 2,
                 "operations": ["POST /api/v1/jobs"]},
                {"type": "UndefinedStatusCode", "title": "Undocumented status code", "count": 3,
                 "operations": ["GET /api/v1/users"]},
                {"type": "JsonSchemaError", "title": "Response violates schema", "count": 1,
                 "operations": ["GET /health"]},
            ],
            "errors": [{"title": "Network Error", "count": 1}],
        })
    };
    // The seed goes in as text: it is past what a `Value` holds.
    let with_seed = |report: Value| {
        report.to_string().replacen(
            '{',
            r#"{"seed": 157768592397442114339670953179780256134,"#,
            1,
        )
    };
    std::fs::write(&path, with_seed(report(true)))?;
    let figures = read_report(&path)?;
    assert_eq!((figures.operations, figures.documented), (40, 43));
    assert_eq!(figures.generated, 120);
    assert_eq!(figures.seeds, ["157768592397442114339670953179780256134"]);
    assert_eq!(figures.server_errors, 2);
    assert_eq!(figures.violations, 4);
    assert_eq!(figures.failures.len(), 3);
    assert_eq!(figures.errors.len(), 1);

    std::fs::write(&path, with_seed(report(false)))?;
    assert!(read_report(&path).is_err());
    Ok(())
}
