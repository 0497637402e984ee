//! `admin`: one-off operations against AWS or the local data; `admin --help` lists them.

use std::io::Write as _;

use local_system::admin::{Invocation, USAGE, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    functions::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(writeln!(std::io::stdout(), "{USAGE}")?);
    }
    let invocation = Invocation::parse(args).map_err(|e| anyhow::anyhow!("{e:#}\n{USAGE}"))?;
    // Progress goes to standard error, so standard output holds the result alone (a job's
    // JSON can be piped). A progress line that cannot be written is no reason to stop.
    let mut progress = |line: &str| {
        writeln!(std::io::stderr(), "{line}").ok();
    };
    let said = run(invocation, &mut progress).await?;
    Ok(writeln!(std::io::stdout(), "{said}")?)
}
