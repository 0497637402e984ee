//! template.yaml's side of the pipeline: the relay's stream settings, batch failure reporting,
//! visibility timeouts, and an alarm on every place a message can come to rest.

use anyhow::{Context, ensure};
use functions::wiring::{FUNCTIONS, Trigger};
use serde_yaml::Value;
use tests::template::{self, Route, Template};

/// The properties of the event `event` of function `function`.
fn event_properties<'a>(
    template: &'a Template,
    function: &str,
    event: &str,
) -> anyhow::Result<&'a Value> {
    template
        .resources_of_type("AWS::Serverless::Function")
        .find(|(id, _)| *id == function)
        .and_then(|(_, f)| {
            f.get("Properties")?
                .get("Events")?
                .get(event)?
                .get("Properties")
        })
        .with_context(|| format!("{function}.Events.{event}.Properties"))
}

fn reports_batch_item_failures(properties: &Value) -> bool {
    properties
        .get("FunctionResponseTypes")
        .and_then(Value::as_sequence)
        .is_some_and(|types| {
            types
                .iter()
                .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
        })
}

/// `{Fn::GetAtt: [resource, attribute]}`.
fn get_att(resource: &str, attribute: &str) -> Value {
    let mut map = serde_yaml::Mapping::new();
    map.insert(
        "Fn::GetAtt".into(),
        Value::Sequence(vec![resource.into(), attribute.into()]),
    );
    Value::Mapping(map)
}

#[test]
fn the_relay_retries_from_the_failed_record_within_limits_then_records_the_batch()
-> anyhow::Result<()> {
    let template = Template::load()?;
    let stream = event_properties(&template, "RelayFunction", "TableStream")?;
    let number = |key: &str| {
        stream
            .get(key)
            .and_then(Value::as_i64)
            .with_context(|| key.to_owned())
    };
    assert!(reports_batch_item_failures(stream), "{stream:?}");
    assert!(
        (0..=100).contains(&number("MaximumRetryAttempts")?),
        "retries must be finite"
    );
    assert!(
        (60..=86_400).contains(&number("MaximumRecordAgeInSeconds")?),
        "record age must be finite"
    );
    assert_eq!(
        stream
            .get("BisectBatchOnFunctionError")
            .and_then(Value::as_bool),
        Some(true)
    );
    assert_eq!(
        stream.get("StartingPosition").and_then(Value::as_str),
        Some("LATEST")
    );
    let destination = stream
        .get("DestinationConfig")
        .and_then(|d| d.get("OnFailure")?.get("Destination"));
    assert_eq!(destination, Some(&get_att("RelayFailureQueue", "Arn")));
    Ok(())
}

#[test]
fn every_queue_consumer_reports_batch_item_failures() -> anyhow::Result<()> {
    let template = Template::load()?;
    let mut consumers = 0;
    for (id, function) in template.resources_of_type("AWS::Serverless::Function") {
        let events = function
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping);
        for (name, event) in events.into_iter().flatten() {
            if event.get("Type").and_then(Value::as_str) != Some("SQS") {
                continue;
            }
            consumers += 1;
            let properties = event
                .get("Properties")
                .context("an SQS event without properties")?;
            assert!(
                reports_batch_item_failures(properties),
                "{id}.{name:?} does not report batch item failures"
            );
        }
    }
    ensure!(consumers > 0, "no queue consumer in the template");
    Ok(())
}

#[test]
fn the_events_queue_hides_a_message_for_six_consumer_timeouts() -> anyhow::Result<()> {
    let template = Template::load()?;
    let timeouts = template
        .doc
        .get("Mappings")
        .and_then(|m| m.get("Consumer")?.get("Timeouts"));
    let seconds = |key: &str| {
        timeouts
            .and_then(|t| t.get(key)?.as_u64())
            .context(key.to_owned())
    };
    let (consumer, visibility) = (
        seconds("FunctionSeconds")?,
        seconds("QueueVisibilitySeconds")?,
    );
    assert!(
        visibility >= 6 * consumer,
        "visibility {visibility} s < 6 × consumer timeout {consumer} s"
    );

    let from_mapping = |key: &str| {
        serde_yaml::from_str::<Value>(&format!("{{'Fn::FindInMap': [Consumer, Timeouts, {key}]}}"))
    };
    let resource = |kind: &'static str, id: &'static str| {
        template
            .resources_of_type(kind)
            .find(|(found, _)| *found == id)
            .and_then(|(_, r)| r.get("Properties"))
            .with_context(|| id.to_owned())
    };
    let queue = resource("AWS::SQS::Queue", "EventsQueue")?;
    assert_eq!(
        queue.get("VisibilityTimeout"),
        Some(&from_mapping("QueueVisibilitySeconds")?)
    );
    let function = resource("AWS::Serverless::Function", "ConsumerFunction")?;
    assert_eq!(
        function.get("Timeout"),
        Some(&from_mapping("FunctionSeconds")?)
    );
    Ok(())
}

#[test]
fn every_queue_where_messages_come_to_rest_has_an_alarm() -> anyhow::Result<()> {
    let template = Template::load()?;
    let mut resting: Vec<String> = template
        .resources_of_type("AWS::SQS::Queue")
        .filter_map(|(_, q)| {
            q.get("Properties")?
                .get("RedrivePolicy")?
                .get("deadLetterTargetArn")
        })
        .filter_map(|arn| arn.get("Fn::GetAtt")?.get(0)?.as_str().map(str::to_owned))
        .collect();
    resting.push("RelayFailureQueue".into());
    let alarmed: Vec<&Value> = template
        .resources_of_type("AWS::CloudWatch::Alarm")
        .filter_map(|(_, a)| a.get("Properties")?.get("Dimensions")?.as_sequence())
        .flatten()
        .filter(|d| d.get("Name").and_then(Value::as_str) == Some("QueueName"))
        .filter_map(|d| d.get("Value"))
        .collect();
    for queue in &resting {
        assert!(
            alarmed.contains(&&get_att(queue, "QueueName")),
            "no alarm on {queue}"
        );
    }
    Ok(())
}

#[test]
fn the_relay_has_an_iterator_age_alarm() -> anyhow::Result<()> {
    let template = Template::load()?;
    let relay: Value = serde_yaml::from_str("{Ref: RelayFunction}")?;
    let found = template
        .resources_of_type("AWS::CloudWatch::Alarm")
        .any(|(_, alarm)| {
            let properties = alarm.get("Properties");
            let metric = properties.and_then(|p| p.get("MetricName")?.as_str());
            let dimensions = properties.and_then(|p| p.get("Dimensions")?.as_sequence());
            metric == Some("IteratorAge")
                && dimensions
                    .into_iter()
                    .flatten()
                    .any(|d| d.get("Value") == Some(&relay))
        });
    assert!(found, "no IteratorAge alarm on RelayFunction");
    Ok(())
}

#[test]
fn the_parity_check_reports_stream_and_queue_triggers_missing_from_the_template()
-> anyhow::Result<()> {
    for wanted in [Trigger::Stream, Trigger::Queue { queue: "events" }] {
        let function = FUNCTIONS
            .iter()
            .find(|f| f.trigger() == wanted)
            .with_context(|| format!("no {wanted:?} function in the table"))?;
        let mut functions = Template::load()?.functions()?;
        let route = Route::from(&function.trigger());
        let declared = functions
            .iter_mut()
            .find(|f| f.handler == function.name)
            .with_context(|| format!("`{}` is not in the template", function.name))?;
        ensure!(
            declared.routes.contains(&route),
            "the template lacks {route} of `{}`",
            function.name
        );
        declared.routes.retain(|r| *r != route);

        let mismatches = template::mismatches(&functions, FUNCTIONS);
        let expected = format!(
            "function `{}`: {route} is in the table but not in template.yaml",
            function.name
        );
        assert!(
            mismatches.contains(&expected),
            "{expected:?} not reported in {mismatches:?}"
        );
    }
    Ok(())
}
