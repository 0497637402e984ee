//! template.yaml as data: its resources, its functions and their triggers.
//!
//! CloudFormation's short-form intrinsics (`!Ref`, `!Sub`, `!GetAtt a.b`, ...) are YAML tags;
//! parsing rewrites them into their long form (`{Ref: ...}`, `{Fn::Sub: ...}`,
//! `{Fn::GetAtt: [a, b]}`), so checks read one shape whatever the template's author wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use functions::wiring::{Function, Trigger, packages};
use serde_yaml::{Mapping, Value};

/// The workspace's template.yaml.
pub fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    /// The whole document, intrinsics in long form.
    pub doc: Value,
}

impl Template {
    /// The workspace's template.yaml.
    pub fn load() -> anyhow::Result<Self> {
        let path = path();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let doc: Value = serde_yaml::from_str(text)?;
        Ok(Self {
            doc: long_form(doc),
        })
    }

    /// Every resource of the given type, by logical id.
    pub fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter(move |(_, resource)| resource.get("Type").and_then(Value::as_str) == Some(kind))
            .filter_map(|(id, resource)| Some((id.as_str()?, resource)))
    }

    /// Every `AWS::Serverless::Function`, with the binary it runs and what triggers it.
    pub fn functions(&self) -> anyhow::Result<Vec<TemplateFunction>> {
        self.resources_of_type("AWS::Serverless::Function")
            .map(|(id, resource)| {
                TemplateFunction::parse(id, resource).with_context(|| format!("function {id}"))
            })
            .collect()
    }
}

/// One function of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFunction {
    pub logical_id: String,
    /// `Properties.Handler`: the name of its entry in the table, which the binary runs.
    pub handler: String,
    /// `Metadata.BuildProperties.Binary`: the cargo binary cargo-lambda builds for it.
    pub binary: String,
    /// `Properties.CodeUri`, when the function sets its own rather than the global one.
    pub code_uri: Option<String>,
    pub routes: Vec<Route>,
}

impl TemplateFunction {
    fn parse(logical_id: &str, resource: &Value) -> anyhow::Result<Self> {
        let binary = string_at(resource, &["Metadata", "BuildProperties", "Binary"])?.to_owned();
        let handler = string_at(resource, &["Properties", "Handler"])?.to_owned();
        let code_uri = resource
            .get("Properties")
            .and_then(|p| p.get("CodeUri"))
            .map(|uri| format!("{uri:?}"));
        let mut routes = Vec::new();
        if let Some(events) = resource.get("Properties").and_then(|p| p.get("Events")) {
            let events = events.as_mapping().context("Events is not a mapping")?;
            for (name, event) in events {
                let name = name.as_str().unwrap_or("?");
                routes.push(Route::of_event(event).with_context(|| format!("event {name}"))?);
            }
        }
        Ok(Self {
            logical_id: logical_id.to_owned(),
            handler,
            binary,
            code_uri,
            routes,
        })
    }
}

/// A trigger, in a form the template and the table of functions share.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// Method upper-cased, path in API Gateway's `{param}` syntax.
    Http { method: String, path: String },
    /// `rate(...)` or `cron(...)`.
    Schedule { expression: String },
    /// The table's stream: a `DynamoDB` event on `!GetAtt Table.StreamArn`.
    Stream,
    /// An `SQS` event on `!GetAtt <Name>Queue.Arn`; `queue` is the table's name for it,
    /// `<name>` in lower case (`EventsQueue` is `events`).
    Queue { queue: String },
}

impl Route {
    fn of_event(event: &Value) -> anyhow::Result<Self> {
        let kind = string_at(event, &["Type"])?;
        match kind {
            "HttpApi" => Ok(Self::Http {
                method: string_at(event, &["Properties", "Method"])?.to_ascii_uppercase(),
                path: string_at(event, &["Properties", "Path"])?.to_owned(),
            }),
            "Schedule" => Ok(Self::Schedule {
                expression: string_at(event, &["Properties", "Schedule"])?.to_owned(),
            }),
            "ScheduleV2" => Ok(Self::Schedule {
                expression: string_at(event, &["Properties", "ScheduleExpression"])?.to_owned(),
            }),
            "DynamoDB" => {
                let stream = get_att(event, &["Properties", "Stream"])?;
                if stream != ("Table", "StreamArn") {
                    bail!("a DynamoDB event on {stream:?}, not on the table's stream");
                }
                Ok(Self::Stream)
            }
            "SQS" => {
                let (queue, attribute) = get_att(event, &["Properties", "Queue"])?;
                let name = queue
                    .strip_suffix("Queue")
                    .filter(|name| !name.is_empty() && attribute == "Arn")
                    .with_context(|| {
                        format!("an SQS event on {queue}.{attribute}, not on a <Name>Queue.Arn")
                    })?;
                Ok(Self::Queue {
                    queue: name.to_ascii_lowercase(),
                })
            }
            other => bail!("event type {other} has no counterpart in the table of functions"),
        }
    }
}

impl From<&Trigger> for Route {
    fn from(trigger: &Trigger) -> Self {
        match *trigger {
            Trigger::Http(route) => Self::Http {
                method: route.method.to_ascii_uppercase(),
                path: route.path.to_owned(),
            },
            Trigger::Schedule { expression } => Self::Schedule {
                expression: expression.to_owned(),
            },
            Trigger::Stream => Self::Stream,
            Trigger::Queue { queue } => Self::Queue {
                queue: queue.to_owned(),
            },
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http { method, path } => write!(f, "route {method} {path}"),
            Self::Schedule { expression } => write!(f, "schedule {expression}"),
            Self::Stream => write!(f, "the table's stream"),
            Self::Queue { queue } => write!(f, "queue {queue}"),
        }
    }
}

/// Every disagreement between the template's functions and the table of functions
/// (`functions::wiring::FUNCTIONS`), one sentence each;
/// empty when both declare the same functions with the same routes and schedules.
pub fn mismatches(template: &[TemplateFunction], table: &[Function]) -> Vec<String> {
    let mut found = Vec::new();

    let mut by_handler: BTreeMap<&str, Vec<&TemplateFunction>> = BTreeMap::new();
    for function in template {
        by_handler
            .entry(&function.handler)
            .or_default()
            .push(function);
    }
    for (handler, functions) in &by_handler {
        if functions.len() > 1 {
            let ids: Vec<_> = functions.iter().map(|f| f.logical_id.as_str()).collect();
            found.push(format!(
                "handler `{handler}` is run by several template functions: {}",
                ids.join(", ")
            ));
        }
    }

    // A function runs the binary of its package, and one build serves every function of a
    // package only while they all share the global source.
    for function in template {
        match packages::of(&function.handler) {
            Some(package) if function.binary != package.binary => found.push(format!(
                "function `{}` ({}) builds binary `{}`, but its package's binary is `{}`",
                function.handler, function.logical_id, function.binary, package.binary
            )),
            _ => {}
        }
        if let Some(uri) = &function.code_uri {
            found.push(format!(
                "function `{}` ({}) sets its own CodeUri {uri}: sam build would build it apart",
                function.handler, function.logical_id
            ));
        }
    }

    // An HTTP route has one owner; several functions may share a schedule expression.
    let mut owners: BTreeMap<&Route, Vec<&str>> = BTreeMap::new();
    for function in template {
        for route in function
            .routes
            .iter()
            .filter(|r| matches!(r, Route::Http { .. }))
        {
            owners.entry(route).or_default().push(&function.logical_id);
        }
    }
    for (route, ids) in &owners {
        if ids.len() > 1 {
            found.push(format!(
                "{route} is served by several template functions: {}",
                ids.join(", ")
            ));
        }
    }

    let in_table: BTreeSet<&str> = table.iter().map(|f| f.name).collect();
    for function in template {
        if !in_table.contains(function.handler.as_str()) {
            found.push(format!(
                "function `{}` ({}) is in template.yaml but not in the table",
                function.handler, function.logical_id
            ));
        }
    }

    let mut table_routes: BTreeMap<&str, BTreeSet<Route>> = BTreeMap::new();
    for function in table {
        table_routes
            .entry(function.name)
            .or_default()
            .insert(Route::from(&function.trigger()));
    }
    for (name, routes) in &table_routes {
        let Some(functions) = by_handler.get(name) else {
            found.push(format!(
                "function `{name}` is in the table but not in template.yaml"
            ));
            continue;
        };
        let declared: BTreeSet<Route> = functions
            .iter()
            .flat_map(|f| f.routes.iter().cloned())
            .collect();
        for route in routes.difference(&declared) {
            found.push(format!(
                "function `{name}`: {route} is in the table but not in template.yaml"
            ));
        }
        for route in declared.difference(routes) {
            found.push(format!(
                "function `{name}`: {route} is in template.yaml but not in the table"
            ));
        }
    }
    found
}

/// The string at `path` below `value`; an intrinsic or a missing key is an error, since a
/// check can only compare literals.
fn string_at<'a>(value: &'a Value, path: &[&str]) -> anyhow::Result<&'a str> {
    let mut current = value;
    for (depth, key) in path.iter().enumerate() {
        current = current
            .get(key)
            .ok_or_else(|| anyhow!("{} is missing", path[..=depth].join(".")))?;
    }
    current
        .as_str()
        .ok_or_else(|| anyhow!("{} is not a literal string: {current:?}", path.join(".")))
}

/// The resource and attribute of the `Fn::GetAtt` at `path` below `value`.
fn get_att<'a>(value: &'a Value, path: &[&str]) -> anyhow::Result<(&'a str, &'a str)> {
    let mut current = value;
    for (depth, key) in path.iter().enumerate() {
        current = current
            .get(key)
            .ok_or_else(|| anyhow!("{} is missing", path[..=depth].join(".")))?;
    }
    let target = current
        .get("Fn::GetAtt")
        .and_then(Value::as_sequence)
        .and_then(|parts| Some((parts.first()?.as_str()?, parts.get(1)?.as_str()?)));
    target.ok_or_else(|| {
        anyhow!(
            "{} is not a !GetAtt Resource.Attribute: {current:?}",
            path.join(".")
        )
    })
}

/// `value` with every short-form intrinsic tag rewritten into its long form.
fn long_form(value: Value) -> Value {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let argument = match (name, long_form(tagged.value)) {
                // `!GetAtt Resource.Attribute` is the one short form whose argument changes shape.
                ("GetAtt", Value::String(target)) => match target.split_once('.') {
                    Some((resource, attribute)) => {
                        Value::Sequence(vec![resource.into(), attribute.into()])
                    }
                    None => Value::String(target),
                },
                (_, argument) => argument,
            };
            let key = match name {
                "Ref" | "Condition" => name.to_owned(),
                _ => format!("Fn::{name}"),
            };
            Value::Mapping(Mapping::from_iter([(Value::String(key), argument)]))
        }
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(long_form).collect()),
        Value::Mapping(entries) => Value::Mapping(
            entries
                .into_iter()
                .map(|(k, v)| (k, long_form(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_form_intrinsics_read_as_their_long_form() -> anyhow::Result<()> {
        let template = Template::parse(
            "A: !Ref Table\nB: !GetAtt Table.Arn\nC: !Sub '${AWS::StackName}/x'\nD: !FindInMap [M, K, V]\n",
        )?;
        let expected: Value = serde_yaml::from_str(
            "A: {Ref: Table}\nB: {'Fn::GetAtt': [Table, Arn]}\nC: {'Fn::Sub': '${AWS::StackName}/x'}\n\
             D: {'Fn::FindInMap': [M, K, V]}\n",
        )?;
        assert_eq!(template.doc, expected);
        Ok(())
    }

    #[test]
    fn an_event_of_a_type_the_catalog_cannot_express_is_an_error() -> anyhow::Result<()> {
        let template = Template::parse(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: {BuildProperties: {Binary: f}}\n    \
             Properties:\n      Handler: f\n      Events:\n        E: {Type: SNS, Properties: {Topic: t}}\n",
        )?;
        let Err(error) = template.functions() else {
            bail!("an SNS event was accepted")
        };
        assert!(format!("{error:#}").contains("SNS"), "{error:#}");
        Ok(())
    }
}
