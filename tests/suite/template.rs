//! template.yaml: cfn-lint clean, and in agreement with the table of functions; every function
//! runs the binary of its package.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail, ensure};
use functions::wiring::packages::PACKAGES;
use functions::wiring::{FUNCTIONS, Trigger};
use serde_yaml::Value;
use tests::template::{self, Route, Template};

#[test]
fn cfn_lint_finds_nothing_in_the_template() -> anyhow::Result<()> {
    let cfn_lint = tests::python::tools()?.join("cfn-lint");
    // Informational checks too: each one is cheap to satisfy and says something about intent.
    let output = Command::new(&cfn_lint)
        .args(["--include-checks", "I", "--"])
        .arg(template::path())
        .output()
        .with_context(|| format!("running {}", cfn_lint.display()))?;
    assert!(
        output.status.success(),
        "cfn-lint reported findings ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

#[test]
fn the_template_and_the_table_declare_the_same_functions_routes_and_schedules() -> anyhow::Result<()>
{
    let functions = Template::load()?.functions()?;
    let mismatches = template::mismatches(&functions, FUNCTIONS);
    assert!(
        mismatches.is_empty(),
        "template.yaml and functions/src/wiring/mod.rs disagree:\n{}",
        mismatches.join("\n")
    );
    Ok(())
}

#[test]
fn the_parity_check_reports_a_route_missing_from_the_template() -> anyhow::Result<()> {
    let mut functions = Template::load()?.functions()?;
    let function = FUNCTIONS
        .iter()
        .find(|f| matches!(f.trigger(), Trigger::Http(_)))
        .context("the table has no HTTP function")?;
    let route = Route::from(&function.trigger());
    let declared = functions
        .iter_mut()
        .find(|f| f.handler == function.name)
        .with_context(|| format!("`{}` is not in the template", function.name))?;
    let before = declared.routes.len();
    declared.routes.retain(|r| *r != route);
    ensure!(
        declared.routes.len() < before,
        "the template lacks {route} of `{}`",
        function.name
    );

    let mismatches = template::mismatches(&functions, FUNCTIONS);
    let expected = format!(
        "function `{}`: {route} is in the table but not in template.yaml",
        function.name
    );
    assert!(
        mismatches.contains(&expected),
        "{expected:?} not reported in {mismatches:?}"
    );
    Ok(())
}

#[test]
fn the_parity_check_reports_a_function_missing_from_the_table() -> anyhow::Result<()> {
    let functions = Template::load()?.functions()?;
    let Some((dropped, rest)) = FUNCTIONS.split_first() else {
        bail!("the table is empty")
    };

    let mismatches = template::mismatches(&functions, rest);
    assert!(
        mismatches
            .iter()
            .any(|m| m.contains(&format!("`{}`", dropped.name)) && m.contains("not in the table")),
        "{mismatches:?}"
    );
    Ok(())
}

#[test]
fn each_package_is_a_main_and_each_function_builds_its_package_binary() -> anyhow::Result<()> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/src/bin");
    let mut mains = Vec::new();
    for entry in std::fs::read_dir(&bin)? {
        mains.push(entry?.file_name().to_string_lossy().into_owned());
    }
    mains.sort();
    let mut binaries: Vec<_> = PACKAGES
        .iter()
        .map(|p| format!("{}.rs", p.binary))
        .collect();
    binaries.sort();
    assert_eq!(mains, binaries);

    let mut functions = Template::load()?.functions()?;
    let Some(login) = functions.iter_mut().find(|f| f.handler == "login") else {
        bail!("the template has no login function")
    };
    login.binary = "worker".into();
    login.code_uri = Some("functions/".into());
    let mismatches = template::mismatches(&functions, FUNCTIONS);
    assert!(
        mismatches
            .iter()
            .any(|m| m.contains("builds binary `worker`, but its package's binary is `identity`")),
        "{mismatches:?}"
    );
    assert!(
        mismatches
            .iter()
            .any(|m| m.contains("sets its own CodeUri")),
        "{mismatches:?}"
    );
    Ok(())
}

#[test]
fn the_job_queue_hides_a_message_for_six_worker_timeouts() -> anyhow::Result<()> {
    let template = Template::load()?;
    let timeouts = template
        .doc
        .get("Mappings")
        .and_then(|m| m.get("Worker"))
        .and_then(|w| w.get("Timeouts"));
    let seconds = |key: &str| {
        timeouts
            .and_then(|t| t.get(key))
            .and_then(Value::as_u64)
            .context(key.to_owned())
    };
    let (worker, visibility) = (
        seconds("FunctionSeconds")?,
        seconds("QueueVisibilitySeconds")?,
    );
    assert!(
        visibility >= 6 * worker,
        "visibility timeout {visibility} s < 6 × worker timeout {worker} s"
    );

    let (_, queue) = template
        .resources_of_type("AWS::SQS::Queue")
        .find(|(id, _)| *id == "JobsQueue")
        .context("JobsQueue")?;
    let used = queue
        .get("Properties")
        .and_then(|p| p.get("VisibilityTimeout"));
    let expected: Value =
        serde_yaml::from_str("{'Fn::FindInMap': [Worker, Timeouts, QueueVisibilitySeconds]}")?;
    assert_eq!(
        used,
        Some(&expected),
        "JobsQueue must take its visibility timeout from the Worker mapping"
    );
    Ok(())
}

#[test]
fn the_job_queue_receives_a_message_as_often_as_a_job_may_be_attempted() -> anyhow::Result<()> {
    use shared::jobs::enqueue::{DEFAULT_MAX_ATTEMPTS, MAX_RECEIVES, NewJob};

    let template = Template::load()?;
    let (_, queue) = template
        .resources_of_type("AWS::SQS::Queue")
        .find(|(id, _)| *id == "JobsQueue")
        .context("JobsQueue")?;
    let receives = queue
        .get("Properties")
        .and_then(|p| p.get("RedrivePolicy"))
        .and_then(|r| r.get("maxReceiveCount"))
        .and_then(Value::as_u64)
        .context("JobsQueue's maxReceiveCount is not a number")?;
    assert_eq!(
        receives,
        u64::from(MAX_RECEIVES),
        "the job queue's maxReceiveCount and shared::jobs::enqueue::MAX_RECEIVES differ"
    );
    assert_eq!(DEFAULT_MAX_ATTEMPTS, MAX_RECEIVES);
    let asked = NewJob {
        job_type: "any",
        payload: serde_json::Value::Null,
        max_attempts: 1,
        delay: std::time::Duration::ZERO,
    }
    .max_attempts(MAX_RECEIVES + 10);
    assert_eq!(asked.max_attempts, MAX_RECEIVES);
    Ok(())
}

#[test]
fn no_parameter_defaults_to_a_placeholder_that_cannot_work_and_the_sender_domain_is_an_identity()
-> anyhow::Result<()> {
    let template = Template::load()?;
    let parameters = template
        .doc
        .get("Parameters")
        .context("the template has parameters")?;
    for name in ["AppUrl", "AllowedOrigins", "MailFrom"] {
        let parameter = parameters.get(name).context(name.to_owned())?;
        assert!(
            parameter.get("Default").is_none(),
            "{name} has a default, which a deployment would keep without noticing"
        );
    }
    let (_, identity) = template
        .resources_of_type("AWS::SES::EmailIdentity")
        .next()
        .context("no SES identity for the sender")?;
    let dkim = identity
        .get("Properties")
        .and_then(|p| p.get("DkimSigningAttributes"));
    ensure!(
        dkim.is_some(),
        "the sender identity is not signed with DKIM"
    );
    Ok(())
}

#[test]
fn only_the_functions_that_sign_may_read_the_private_signing_keys() -> anyhow::Result<()> {
    let readers = functions_whose_policies_mention(&Template::load()?, "/signing-keys-")?;
    assert_eq!(readers, ["LoginFunction", "RefreshFunction"]);
    Ok(())
}

/// The functions whose policies mention `needle`, sorted.
fn functions_whose_policies_mention(
    template: &Template,
    needle: &str,
) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    for (id, function) in template.resources_of_type("AWS::Serverless::Function") {
        let policies = serde_yaml::to_string(
            function
                .get("Properties")
                .and_then(|p| p.get("Policies"))
                .unwrap_or(&Value::Null),
        )?;
        if policies.contains(needle) {
            found.push(id.to_owned());
        }
    }
    found.sort();
    Ok(found)
}

#[test]
fn every_function_logs_to_a_group_of_its_own_that_expires() -> anyhow::Result<()> {
    let template = Template::load()?;
    let groups: Vec<&str> = template
        .resources_of_type("AWS::Logs::LogGroup")
        .filter(|(_, group)| {
            group
                .get("Properties")
                .and_then(|p| p.get("RetentionInDays"))
                .is_some()
        })
        .map(|(id, _)| id)
        .collect();
    let mut used = Vec::new();
    for (id, function) in template.resources_of_type("AWS::Serverless::Function") {
        let group = function
            .get("Properties")
            .and_then(|p| p.get("LoggingConfig"))
            .and_then(|l| l.get("LogGroup"))
            .and_then(|g| g.get("Ref"))
            .and_then(Value::as_str)
            .with_context(|| format!("{id} names no log group of the stack"))?;
        ensure!(
            groups.contains(&group),
            "{id} logs to {group}, which has no retention"
        );
        ensure!(!used.contains(&group), "{group} is shared");
        used.push(group);
    }
    Ok(())
}

#[test]
fn a_scheduled_run_that_fails_every_try_is_kept_and_alarmed_and_the_worker_is_bounded()
-> anyhow::Result<()> {
    let template = Template::load()?;
    let alarmed: Vec<String> = template
        .resources_of_type("AWS::CloudWatch::Alarm")
        .filter(|(_, alarm)| {
            alarm
                .get("Properties")
                .and_then(|p| p.get("MetricName"))
                .and_then(Value::as_str)
                == Some("Errors")
        })
        .filter_map(|(_, alarm)| {
            let dimensions = alarm.get("Properties")?.get("Dimensions")?.as_sequence()?;
            let value = dimensions.first()?.get("Value")?.get("Ref")?.as_str()?;
            Some(value.to_owned())
        })
        .collect();
    let mut scheduled = 0;
    for (id, resource) in template.resources_of_type("AWS::Serverless::Function") {
        let on_schedule = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping)
            .is_some_and(|events| {
                events
                    .values()
                    .any(|event| event.get("Type").and_then(Value::as_str) == Some("Schedule"))
            });
        if !on_schedule {
            continue;
        }
        scheduled += 1;
        let config = resource
            .get("Properties")
            .and_then(|p| p.get("EventInvokeConfig"))
            .with_context(|| format!("{id} has no EventInvokeConfig"))?;
        ensure!(
            config.get("MaximumRetryAttempts").is_some(),
            "{id}: retries left to the default"
        );
        let on_failure = config
            .get("DestinationConfig")
            .and_then(|d| d.get("OnFailure"))
            .and_then(|o| o.get("Destination"));
        ensure!(on_failure.is_some(), "{id}: no on-failure destination");
        ensure!(alarmed.iter().any(|a| a == id), "{id} has no error alarm");
    }
    ensure!(scheduled >= 4, "only {scheduled} scheduled functions");

    let (_, worker) = template
        .resources_of_type("AWS::Serverless::Function")
        .find(|(id, _)| *id == "WorkerFunction")
        .context("WorkerFunction")?;
    let text = serde_yaml::to_string(worker)?;
    ensure!(
        text.contains("MaximumConcurrency"),
        "the worker's queue trigger is unbounded"
    );
    Ok(())
}

#[test]
fn a_secret_grant_matches_exactly_one_secret() -> anyhow::Result<()> {
    let text = std::fs::read_to_string(template::path())?;
    let mut grants = 0;
    for line in text.lines().filter(|l| l.contains(":secretsmanager:")) {
        grants += 1;
        ensure!(
            !line.trim_end().ends_with('*'),
            "a secret grant with a wildcard suffix matches every secret sharing the prefix: {line}"
        );
        ensure!(
            line.trim_end().ends_with("-??????"),
            "a secret grant without Secrets Manager's six-character suffix: {line}"
        );
    }
    ensure!(grants > 30, "only {grants} secret grants");
    Ok(())
}

/// The use cases that put a condition check in a transaction (`Write::Check`, which DynamoDB
/// authorises as `dynamodb:ConditionCheckItem`): login (the user unchanged since its read) and
/// the role assignments (the user unchanged). A new one belongs here and in its function's
/// policy; the check below keeps the permission off every other function.
const CONDITION_CHECKERS: &[&str] = &["LoginFunction", "AssignRoleFunction", "RevokeRoleFunction"];

#[test]
fn only_the_functions_that_issue_condition_checks_may() -> anyhow::Result<()> {
    let granted =
        functions_whose_policies_mention(&Template::load()?, "dynamodb:ConditionCheckItem")?;
    let mut expected: Vec<String> = CONDITION_CHECKERS.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(granted, expected);

    // And the code agrees: the only places that build a condition check.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut builders = Vec::new();
    for dir in ["shared/src", "functions/src"] {
        collect_condition_checks(&root.join(dir), &mut builders)?;
    }
    builders.sort();
    assert_eq!(
        builders,
        [
            "shared/src/accounts/login.rs",
            "shared/src/rbac/assignments.rs"
        ],
        "a new use case builds a condition check: grant its function dynamodb:ConditionCheckItem and list it in CONDITION_CHECKERS"
    );
    Ok(())
}

/// The files under `dir` that build a `Write::Check` (the store's own definition aside).
fn collect_condition_checks(dir: &Path, found: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_condition_checks(&path, found)?;
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let builds = text.contains("Write::Check {") || text.contains("Write::check(");
        let relative = path
            .components()
            .rev()
            .take_while(|c| c.as_os_str() != "..")
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if builds && relative != "shared/src/store.rs" {
            found.push(relative);
        }
    }
    Ok(())
}

#[test]
fn queue_and_stream_pollers_hold_no_account_wide_grant() -> anyhow::Result<()> {
    let template = Template::load()?;
    let mut pollers = 0;
    for (id, function) in template.resources_of_type("AWS::Serverless::Function") {
        let events = function
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping);
        let polls = events.is_some_and(|events| {
            events.values().any(|event| {
                matches!(
                    event.get("Type").and_then(Value::as_str),
                    Some("SQS" | "DynamoDB")
                )
            })
        });
        if !polls {
            continue;
        }
        pollers += 1;
        // SAM gives a role it generates the managed poller policy (every queue or stream of
        // the account); a role of the stack's own gets only what it lists.
        let role = function
            .get("Properties")
            .and_then(|p| p.get("Role"))
            .and_then(|r| r.get("Fn::GetAtt"))
            .and_then(Value::as_sequence)
            .and_then(|parts| parts.first())
            .and_then(Value::as_str)
            .with_context(|| format!("{id} polls under a role SAM generates"))?;
        let (_, role) = template
            .resources_of_type("AWS::IAM::Role")
            .find(|(name, _)| *name == role)
            .with_context(|| format!("{id}'s role {role} is not in the template"))?;
        let properties = role.get("Properties").context("the role's properties")?;
        ensure!(
            properties.get("ManagedPolicyArns").is_none(),
            "{id}'s role has managed policies"
        );
        let documents = properties
            .get("Policies")
            .and_then(Value::as_sequence)
            .context("the role's policies")?;
        for statement in documents
            .iter()
            .filter_map(|p| p.get("PolicyDocument")?.get("Statement")?.as_sequence())
            .flatten()
        {
            if statement.get("Resource").and_then(Value::as_str) == Some("*") {
                let actions =
                    serde_yaml::to_string(statement.get("Action").unwrap_or(&Value::Null))?;
                ensure!(
                    actions
                        .lines()
                        .all(|a| a.trim().trim_start_matches("- ").starts_with("xray:")),
                    "{id} is granted {actions} on every resource"
                );
            }
        }
    }
    ensure!(pollers == 4, "{pollers} pollers");
    Ok(())
}

#[test]
fn a_custom_domain_is_optional_and_the_outputs_tell_a_client_where_everything_is()
-> anyhow::Result<()> {
    let template = Template::load()?;
    let doc = &template.doc;
    for parameter in ["DomainName", "CertificateArn"] {
        let default = doc["Parameters"][parameter]["Default"].as_str();
        assert_eq!(
            default,
            Some(""),
            "{parameter} is optional (off by default)"
        );
    }
    for resource in ["ApiDomain", "ApiDomainMapping"] {
        let condition = doc["Resources"][resource]["Condition"].as_str();
        assert_eq!(
            condition,
            Some("HasCustomDomain"),
            "{resource} exists only with a domain"
        );
    }
    let outputs = doc["Outputs"]
        .as_mapping()
        .context("the template has no outputs")?;
    for output in [
        "ApiUrl",
        "ExecuteApiUrl",
        "JwksUrl",
        "OpenApiUrl",
        "DocsUrl",
        "PublicBlobUrl",
        "CustomDomainTarget",
        "Stage",
    ] {
        ensure!(
            outputs.contains_key(output),
            "no {output} output for clients"
        );
    }
    Ok(())
}

#[test]
fn every_environment_of_samconfig_names_its_stage_in_the_stack_and_the_parameter()
-> anyhow::Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samconfig.toml");
    let text = std::fs::read_to_string(&path)?;
    let mut environments = 0;
    let mut section = String::new();
    let (mut stack, mut overrides) = (None, None);
    for line in text.lines().chain(["[end]"]) {
        if line.starts_with('[') {
            if let Some(env) = section.strip_suffix(".deploy.parameters") {
                environments += 1;
                let stack: &str = stack
                    .take()
                    .context("a deploy section without stack_name")?;
                let overrides: &str = overrides.take().unwrap_or_default();
                assert_eq!(stack, format!("\"accounts-{env}\""), "[{section}]");
                assert!(
                    overrides.contains(&format!("Stage={env}")),
                    "[{section}] does not pass Stage={env}: {overrides}"
                );
            }
            section = line.trim_matches(['[', ']']).to_owned();
        } else if let Some(value) = line.strip_prefix("stack_name = ") {
            stack = Some(value);
        } else if let Some(value) = line.strip_prefix("parameter_overrides = ") {
            overrides = Some(value);
        }
    }
    assert_eq!(environments, 2, "dev and prod");
    Ok(())
}

/// The alarms the service needs, by the metric each watches; every one tells the alarm topic.
#[test]
fn the_dashboard_shows_the_functions_metrics_and_every_alarm_tells_the_topic() -> anyhow::Result<()>
{
    let template = Template::load()?;
    let (_, dashboard) = template
        .resources_of_type("AWS::CloudWatch::Dashboard")
        .next()
        .context("no dashboard")?;
    let body = serde_yaml::to_string(&dashboard["Properties"]["DashboardBody"])?;
    for metric in [
        "Requests",
        "Latency",
        "Logins",
        "Registrations",
        "Jobs",
        "RelayLag",
        "DeadLettered",
    ] {
        assert!(
            body.contains(metric),
            "the dashboard does not show {metric}"
        );
    }

    let mut watched = Vec::new();
    for (id, alarm) in template.resources_of_type("AWS::CloudWatch::Alarm") {
        let properties = &alarm["Properties"];
        let actions = serde_yaml::to_string(&properties["AlarmActions"])?;
        ensure!(actions.contains("AlarmTopic"), "{id} tells nobody");
        let text = serde_yaml::to_string(properties)?;
        watched.push((id.to_owned(), text));
    }
    let watches = |needle: &str| watched.iter().any(|(_, text)| text.contains(needle));
    for (what, needle) in [
        ("the API's 5xx rate", "MetricName: 5xx"),
        ("the API's p99 latency", "ExtendedStatistic: p99"),
        ("Lambda errors", "MetricName: Errors"),
        ("Lambda throttles", "MetricName: Throttles"),
        ("the stream's iterator age", "MetricName: IteratorAge"),
        ("DynamoDB read throttles", "MetricName: ReadThrottleEvents"),
        (
            "DynamoDB write throttles",
            "MetricName: WriteThrottleEvents",
        ),
        ("SES bounces", "MetricName: Reputation.BounceRate"),
        ("SES complaints", "MetricName: Reputation.ComplaintRate"),
    ] {
        assert!(watches(needle), "no alarm watches {what}");
    }
    for queue in ["JobsQueue", "EventsQueue", "UploadsQueue"] {
        assert!(
            watched
                .iter()
                .any(|(_, text)| text.contains("ApproximateAgeOfOldestMessage")
                    && text.contains(&format!("- {queue}\n"))),
            "no alarm on the age of {queue}'s oldest message"
        );
    }
    Ok(())
}
