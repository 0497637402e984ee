//! Tracing setup: JSON lines on Lambda (CloudWatch parses them), readable lines locally.
//!
//! `RUST_LOG` filters as usual; the default is `info`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call leaves the first in place.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let installed = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // Lambda stamps every line with the time and request id already.
        builder
            .json()
            .with_ansi(false)
            .without_time()
            .with_current_span(true)
            .try_init()
    } else {
        builder.try_init()
    };
    // Already installed (a test harness or an earlier call): keep that one.
    drop(installed);
}
