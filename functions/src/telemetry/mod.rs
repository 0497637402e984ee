//! Tracing setup: JSON lines on Lambda (CloudWatch parses them), readable lines locally.
//!
//! `RUST_LOG` takes a level and per-target levels (`info`, `warn,shared=debug`): the
//! directives of tracing-subscriber's `Targets`, which need no regular expressions (the span
//! and field filters of `EnvFilter` would link a regex engine into every function). The
//! default, and the fallback for a value that does not parse, is `info`. Release builds compile
//! the `trace` level out (tracing's `release_max_level_debug`, Cargo.toml says why).

pub mod metrics;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber; a second call leaves the first in place.
pub fn init() {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
    let format = tracing_subscriber::fmt::layer().with_writer(std::io::stdout);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // Lambda stamps every line with the time and request id already.
        let format = format
            .json()
            .with_ansi(false)
            .without_time()
            .with_current_span(true);
        registry.with(format).try_init()
    } else {
        registry.with(format).try_init()
    };
    // Already installed (a test harness or an earlier call): keep that one.
    drop(installed);
}

/// Which function serves a route, and the route as its metrics name it (`POST /api/v1/jobs`).
#[derive(Debug, Clone)]
pub struct Served {
    pub function: &'static str,
    pub endpoint: Arc<str>,
}

/// A route layer of every function: names the function and its route in the request's span
/// (so every log line of the request carries them) and records the request's metrics.
pub async fn observe(State(served): State<Served>, request: Request, next: Next) -> Response {
    let span = tracing::Span::current();
    span.record("function", served.function);
    span.record("route", &*served.endpoint);
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::request(&served.endpoint, response.status(), started.elapsed());
    response
}

/// Names `trace` in `span`'s `trace_id` field (declared empty), when there is one: a line
/// without a trace says nothing of one rather than an empty value.
pub fn record_trace(span: &tracing::Span, trace: Option<&str>) {
    if let Some(trace) = trace {
        span.record("trace_id", trace);
    }
}

/// The filter `RUST_LOG` describes, or `info` when it is unset or does not parse.
fn filter(directives: Option<&str>) -> Targets {
    directives
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_sets_the_default_and_per_target_levels() {
        let filter = filter(Some("warn,shared=debug"));
        assert!(filter.would_enable("shared::auth", &Level::DEBUG));
        assert!(!filter.would_enable("functions", &Level::INFO));
        assert!(filter.would_enable("functions", &Level::WARN));
    }

    #[test]
    fn unset_or_unparsable_means_info() {
        for directives in [None, Some("shared=[span]=loud")] {
            let filter = filter(directives);
            assert!(
                filter.would_enable("functions", &Level::INFO),
                "{directives:?}"
            );
            assert!(
                !filter.would_enable("functions", &Level::DEBUG),
                "{directives:?}"
            );
        }
    }
}
