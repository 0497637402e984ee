//! CloudWatch metrics, as Embedded Metric Format lines in the function's log: CloudWatch
//! extracts them, no API call is made. On Lambda the collector ([`install`]) holds what an
//! invocation recorded and prints it when the invocation ends ([`flush`]): one line per set of
//! dimensions, with every metric recorded under it. Where no collector is installed (the local
//! system) recording does nothing.
//!
//! The collector is our own, for the seven metrics below, rather than a general metrics facade
//! and its exporter: each function's package is about 15 KB smaller for it.
//!
//! | metric | unit | dimensions |
//! |---|---|---|
//! | `Requests` | count | `Endpoint` (the route, `POST /api/v1/auth/login`), `StatusClass` (`2xx`..`5xx`) |
//! | `Latency` | milliseconds | `Endpoint` |
//! | `Logins` | count | `Outcome`: `ok`, `failed`, `throttled` |
//! | `Registrations` | count | |
//! | `Jobs` | count | `JobType`, `Status`: the final `succeeded` or `dead`, or `failed` (will retry) |
//! | `DeadLettered` | count | `Queue` |
//! | `RelayLag` | milliseconds | (from a change's commit to its relay) |

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use serde_json::{Map, Value, json};

/// The namespace when `METRICS_NAMESPACE` is not set (the template sets the stack's name).
pub const DEFAULT_NAMESPACE: &str = "Accounts";

/// The most values one metric may carry in a line (CloudWatch's limit for EMF arrays).
const MAX_VALUES_PER_LINE: usize = 100;

static COLLECTOR: OnceLock<Collector> = OnceLock::new();

/// The metrics the functions record, with their units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Metric {
    Requests,
    Latency,
    Logins,
    Registrations,
    Jobs,
    DeadLettered,
    RelayLag,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Requests => "Requests",
            Metric::Latency => "Latency",
            Metric::Logins => "Logins",
            Metric::Registrations => "Registrations",
            Metric::Jobs => "Jobs",
            Metric::DeadLettered => "DeadLettered",
            Metric::RelayLag => "RelayLag",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Metric::Latency | Metric::RelayLag => "Milliseconds",
            _ => "Count",
        }
    }
}

/// A metric's dimensions, by name; no function dimension: the dashboard and alarms read each
/// metric across the functions that record it (the log group tells which function wrote it).
type Dimensions = Vec<(&'static str, String)>;

/// What was recorded of one metric under one set of dimensions since the last flush.
#[derive(Debug)]
enum Recorded {
    Count(u64),
    Samples(Vec<f64>),
}

/// The process's metrics until the next flush.
#[derive(Debug)]
pub struct Collector {
    namespace: String,
    recorded: Mutex<BTreeMap<Dimensions, BTreeMap<Metric, Recorded>>>,
}

impl Collector {
    fn new(namespace: String) -> Self {
        Self {
            namespace,
            recorded: Mutex::default(),
        }
    }

    fn count(&self, metric: Metric, dimensions: Dimensions) {
        let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        let entry = recorded.entry(dimensions).or_default().entry(metric);
        match entry.or_insert(Recorded::Count(0)) {
            Recorded::Count(count) => *count += 1,
            Recorded::Samples(_) => {}
        }
    }

    fn sample(&self, metric: Metric, dimensions: Dimensions, value: f64) {
        let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        let entry = recorded.entry(dimensions).or_default().entry(metric);
        match entry.or_insert_with(|| Recorded::Samples(Vec::new())) {
            Recorded::Samples(samples) => samples.push(value),
            Recorded::Count(_) => {}
        }
    }

    /// Writes what was recorded since the last flush, one line per set of dimensions (more
    /// when a metric holds more values than a line may carry), and forgets it.
    pub fn flush(&self, mut writer: impl Write) -> std::io::Result<()> {
        let recorded =
            std::mem::take(&mut *self.recorded.lock().unwrap_or_else(|e| e.into_inner()));
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        for (dimensions, metrics) in recorded {
            let mut lines: Vec<Vec<(Metric, Value)>> = Vec::new();
            for (metric, recorded) in metrics {
                let values = match recorded {
                    Recorded::Count(count) => vec![json!(count)],
                    Recorded::Samples(samples) => samples
                        .chunks(MAX_VALUES_PER_LINE)
                        .map(|chunk| json!(chunk))
                        .collect(),
                };
                for (line, value) in values.into_iter().enumerate() {
                    if line == lines.len() {
                        lines.push(Vec::new());
                    }
                    lines[line].push((metric, value));
                }
            }
            for values in lines {
                serde_json::to_writer(&mut writer, &self.line(timestamp, &dimensions, values))?;
                writer.write_all(b"\n")?;
            }
        }
        writer.flush()
    }

    /// One EMF document: the directive naming the metrics and their dimensions, then the
    /// dimensions' and the metrics' values as top-level members.
    fn line(
        &self,
        timestamp: u64,
        dimensions: &Dimensions,
        values: Vec<(Metric, Value)>,
    ) -> Map<String, Value> {
        let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
        let metrics: Vec<Value> = values
            .iter()
            .map(|(metric, _)| json!({ "Name": metric.name(), "Unit": metric.unit() }))
            .collect();
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [names],
                    "Metrics": metrics,
                }],
            }),
        );
        for (name, value) in dimensions {
            line.insert((*name).to_owned(), json!(value));
        }
        for (metric, value) in values {
            line.insert(metric.name().to_owned(), value);
        }
        line
    }
}

/// Installs the process's collector, once, and returns it.
pub fn install() -> Option<&'static Collector> {
    Some(COLLECTOR.get_or_init(|| {
        let namespace =
            std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| DEFAULT_NAMESPACE.to_owned());
        Collector::new(namespace)
    }))
}

/// Writes what was recorded since the last flush to stdout, where Lambda sends it to the log.
pub fn flush() {
    if let Some(collector) = COLLECTOR.get()
        && let Err(error) = collector.flush(std::io::stdout().lock())
    {
        tracing::warn!(%error, "metrics could not be written");
    }
}

fn count(metric: Metric, dimensions: Dimensions) {
    if let Some(collector) = COLLECTOR.get() {
        collector.count(metric, dimensions);
    }
}

fn sample(metric: Metric, dimensions: Dimensions, value: f64) {
    if let Some(collector) = COLLECTOR.get() {
        collector.sample(metric, dimensions, value);
    }
}

pub fn request(endpoint: &str, status: StatusCode, elapsed: Duration) {
    if COLLECTOR.get().is_none() {
        return;
    }
    let class = match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    };
    count(
        Metric::Requests,
        vec![
            ("Endpoint", endpoint.to_owned()),
            ("StatusClass", class.to_owned()),
        ],
    );
    let milliseconds = elapsed.as_secs_f64() * 1000.0;
    sample(
        Metric::Latency,
        vec![("Endpoint", endpoint.to_owned())],
        milliseconds,
    );
}

/// A login's outcome: `ok`, `failed` (wrong credentials, unverified, disabled) or `throttled`.
pub fn login(outcome: &'static str) {
    count(Metric::Logins, vec![("Outcome", outcome.to_owned())]);
}

pub fn registration() {
    count(Metric::Registrations, vec![]);
}

/// A job attempt's end: `succeeded`, `failed` (it will be tried again) or `dead`.
pub fn job(job_type: &str, status: &'static str) {
    count(
        Metric::Jobs,
        vec![
            ("JobType", job_type.to_owned()),
            ("Status", status.to_owned()),
        ],
    );
}

/// A message left for the queue's dead-letter queue.
pub fn dead_lettered(queue: &'static str) {
    count(Metric::DeadLettered, vec![("Queue", queue.to_owned())]);
}

/// How long after its commit a change reached the relay.
pub fn relay_lag(lag: Duration) {
    sample(Metric::RelayLag, vec![], lag.as_secs_f64() * 1000.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flushed(collector: &Collector) -> Vec<Value> {
        let mut out = Vec::new();
        collector.flush(&mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn one_line_per_dimension_set_with_its_counts_and_samples() {
        let collector = Collector::new("Test".into());
        let login = || vec![("Endpoint", "POST /login".to_owned())];
        collector.count(Metric::Requests, login());
        collector.count(Metric::Requests, login());
        collector.sample(Metric::Latency, login(), 1.5);
        collector.sample(Metric::Latency, login(), 2.5);
        collector.count(Metric::Registrations, vec![]);
        let lines = flushed(&collector);
        assert_eq!(lines.len(), 2);
        let unnamed = &lines[0];
        assert_eq!(unnamed["Registrations"], 1);
        assert_eq!(
            unnamed["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        let login = &lines[1];
        assert_eq!(login["Endpoint"], "POST /login");
        assert_eq!(login["Requests"], 2);
        assert_eq!(login["Latency"], json!([1.5, 2.5]));
        let directive = &login["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Test");
        assert_eq!(directive["Dimensions"], json!([["Endpoint"]]));
        assert_eq!(
            directive["Metrics"],
            json!([
                { "Name": "Requests", "Unit": "Count" },
                { "Name": "Latency", "Unit": "Milliseconds" },
            ])
        );
        assert!(login["_aws"]["Timestamp"].as_u64().unwrap() > 0);
        assert!(
            flushed(&collector).is_empty(),
            "a flush forgets what it wrote"
        );
    }

    #[test]
    fn samples_beyond_a_lines_limit_go_on_further_lines() {
        let collector = Collector::new("Test".into());
        for i in 0..250 {
            collector.sample(Metric::RelayLag, vec![], f64::from(i));
        }
        collector.count(Metric::Registrations, vec![]);
        let lines = flushed(&collector);
        let sizes: Vec<usize> = lines
            .iter()
            .map(|line| line["RelayLag"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
        // The count is written once, with the first line.
        assert_eq!(lines[0]["Registrations"], 1);
        assert!(lines[1].get("Registrations").is_none());
        let directive = &lines[2]["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            directive["Metrics"],
            json!([{ "Name": "RelayLag", "Unit": "Milliseconds" }])
        );
    }
}
