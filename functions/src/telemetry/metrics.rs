//! CloudWatch metrics, as Embedded Metric Format lines in the function's log: CloudWatch
//! extracts them, no API call is made. Recorded through the `metrics` facade; on Lambda the
//! collector ([`install`]) prints what an invocation recorded when it ends ([`flush`]). Where
//! no collector is installed (the local system) recording does nothing.
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

use std::sync::OnceLock;
use std::time::Duration;

use http::StatusCode;
use metrics::Unit;
use metrics_cloudwatch_embedded::{Builder, Collector};

/// The namespace when `METRICS_NAMESPACE` is not set (the template sets the stack's name).
pub const DEFAULT_NAMESPACE: &str = "Accounts";

static COLLECTOR: OnceLock<Option<&'static Collector>> = OnceLock::new();

/// Installs the process's collector, once; `None` when another recorder was installed first.
pub fn install() -> Option<&'static Collector> {
    *COLLECTOR.get_or_init(|| {
        let namespace =
            std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| DEFAULT_NAMESPACE.to_owned());
        // No function dimension: the dashboard and alarms read each metric across the
        // functions that record it (the log group tells which function wrote a line).
        match Builder::new().cloudwatch_namespace(namespace).init() {
            Ok(collector) => {
                metrics::describe_histogram!("Latency", Unit::Milliseconds, "request latency");
                metrics::describe_histogram!("RelayLag", Unit::Milliseconds, "commit to relay");
                for counter in [
                    "Requests",
                    "Logins",
                    "Registrations",
                    "Jobs",
                    "DeadLettered",
                ] {
                    metrics::describe_counter!(counter, Unit::Count, "");
                }
                Some(collector)
            }
            Err(error) => {
                tracing::warn!(%error, "metrics are not recorded: no collector");
                None
            }
        }
    })
}

/// Writes what was recorded since the last flush to stdout, where Lambda sends it to the log.
pub fn flush() {
    if let Some(Some(collector)) = COLLECTOR.get()
        && let Err(error) = collector.flush(std::io::stdout().lock())
    {
        tracing::warn!(%error, "metrics could not be written");
    }
}

pub fn request(endpoint: &str, status: StatusCode, elapsed: Duration) {
    let class = match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    };
    let endpoint = endpoint.to_owned();
    metrics::counter!("Requests", "Endpoint" => endpoint.clone(), "StatusClass" => class)
        .increment(1);
    metrics::histogram!("Latency", "Endpoint" => endpoint).record(elapsed.as_secs_f64() * 1000.0);
}

/// A login's outcome: `ok`, `failed` (wrong credentials, unverified, disabled) or `throttled`.
pub fn login(outcome: &'static str) {
    metrics::counter!("Logins", "Outcome" => outcome).increment(1);
}

pub fn registration() {
    metrics::counter!("Registrations").increment(1);
}

/// A job attempt's end: `succeeded`, `failed` (it will be tried again) or `dead`.
pub fn job(job_type: &str, status: &'static str) {
    metrics::counter!("Jobs", "JobType" => job_type.to_owned(), "Status" => status).increment(1);
}

/// A message left for the queue's dead-letter queue.
pub fn dead_lettered(queue: &'static str) {
    metrics::counter!("DeadLettered", "Queue" => queue).increment(1);
}

/// How long after its commit a change reached the relay.
pub fn relay_lag(lag: Duration) {
    metrics::histogram!("RelayLag").record(lag.as_secs_f64() * 1000.0);
}
