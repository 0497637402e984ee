//! `cargo run -p function-report --release`: builds every package as Lambda receives it and
//! prints, per function, its package's zipped size, the init time, the init time minus a bare
//! `lambda_runtime` binary's, and the peak resident memory at the end of init.
//!
//! Init is measured as Lambda bills it: from starting the process to its first request for an
//! invocation (`GET /2018-06-01/runtime/invocation/next`) on a minimal Runtime API served here
//! on loopback. Every function and the bare binary run in turn, `RUNS` rounds interleaved, so
//! a busy moment of the machine falls on all of them alike; the table shows medians.
//!
//! Options: `--runs N` (default 15); `--arm64` also builds for arm64 with cargo-lambda (when
//! it and the target are installed) and reports that package's size (arm64 binaries cannot
//! run on this machine, so init is measured on the native build).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use functions::wiring::packages::{PACKAGES, Package};

/// The yardstick built beside the packages.
const BARE: &str = "bare";

/// The longest a function may take to ask for its first event before the run fails.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    let options = Options::parse()?;
    let root = workspace_root()?;

    let started = Instant::now();
    let mut args = vec!["-p", "functions"];
    for package in PACKAGES {
        args.extend(["--bin", package.binary]);
    }
    build(&root, &args)?;
    let build_time = started.elapsed();
    build(&root, &["-p", "function-report", "--bin", BARE])?;
    let release = target_dir(&root).join("release");
    let bare = release.join(BARE);
    let bare_size = zipped_size(&bare)?;

    let mut packages = Vec::new();
    for package in PACKAGES {
        let binary = release.join(package.binary);
        let arm64 = match options.arm64 {
            true => arm64_size(&root, package.binary)?,
            false => None,
        };
        let x86_64 = zipped_size(&binary)?;
        packages.push(Built {
            package,
            binary,
            x86_64,
            arm64,
        });
    }

    let api = RuntimeApi::start()?;
    let mut bare_runs = Vec::new();
    let functions: Vec<_> = packages
        .iter()
        .flat_map(|built| built.package.functions.iter().map(move |f| (built, f)))
        .collect();
    let mut runs: Vec<Vec<Init>> = vec![Vec::new(); functions.len()];
    for round in 0..options.runs {
        eprint!("\rround {}/{}", round + 1, options.runs);
        bare_runs.push(api.measure(&bare, "bare")?);
        for ((built, function), runs) in functions.iter().zip(&mut runs) {
            runs.push(api.measure(&built.binary, function.name)?);
        }
    }
    eprintln!();

    let bare_init = median(bare_runs.iter().map(|r| r.time));
    println!(
        "release build of every package ({}): {:.0} s; {} rounds, medians",
        PACKAGES
            .iter()
            .map(|p| format!("{}: {} functions", p.binary, p.functions.len()))
            .collect::<Vec<_>>()
            .join(", "),
        build_time.as_secs_f64(),
        options.runs
    );
    println!(
        "bare lambda_runtime binary: zipped {}, init {}, peak RSS {}",
        megabytes(bare_size),
        millis(bare_init),
        megabytes(bare_runs.iter().map(|r| r.peak_rss).max().unwrap_or(0)),
    );
    println!();
    print!("| function | package | zipped (x86_64) |");
    if options.arm64 {
        print!(" zipped (arm64) |");
    }
    println!(" init | init − bare | peak RSS |");
    print!("|---|---|---:|");
    if options.arm64 {
        print!("---:|");
    }
    println!("---:|---:|---:|");
    let mut worst = Duration::ZERO;
    for ((built, function), runs) in functions.iter().zip(&runs) {
        let init = median(runs.iter().map(|r| r.time));
        let over = init.saturating_sub(bare_init);
        worst = worst.max(over);
        print!(
            "| {} | {} | {} |",
            function.name,
            built.package.binary,
            megabytes(built.x86_64)
        );
        if options.arm64 {
            print!(" {} |", built.arm64.map_or("—".into(), megabytes));
        }
        println!(
            " {} | +{} | {} |",
            millis(init),
            millis(over),
            megabytes(runs.iter().map(|r| r.peak_rss).max().unwrap_or(0)),
        );
    }
    println!();
    let largest = packages
        .iter()
        .map(|b| b.arm64.unwrap_or(0).max(b.x86_64))
        .max()
        .unwrap_or(0);
    println!(
        "largest package {}; largest init over bare +{}",
        megabytes(largest),
        millis(worst)
    );
    Ok(())
}

/// A package, built: its binary and its zipped sizes.
#[derive(Debug)]
struct Built {
    package: &'static Package,
    binary: PathBuf,
    x86_64: u64,
    arm64: Option<u64>,
}

#[derive(Debug)]
struct Options {
    runs: usize,
    arm64: bool,
}

impl Options {
    fn parse() -> anyhow::Result<Self> {
        let mut options = Self {
            runs: 15,
            arm64: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--runs" => {
                    let value = args.next().context("--runs needs a number")?;
                    options.runs = value.parse().context("--runs needs a number")?;
                }
                "--arm64" => options.arm64 = true,
                other => bail!("unknown option {other:?} (options: --runs N, --arm64)"),
            }
        }
        if options.runs == 0 {
            bail!("--runs must be at least 1");
        }
        Ok(options)
    }
}

/// One start of a function.
#[derive(Debug, Clone, Copy)]
struct Init {
    time: Duration,
    peak_rss: u64,
}

fn workspace_root() -> anyhow::Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .context("the report crate is not two levels below the workspace")
}

/// Where the builds below put their binaries: they inherit `CARGO_TARGET_DIR` (relative to
/// `root`, where they run) when it is set.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| root.join(dir))
        .unwrap_or_else(|| root.join("target"))
}

fn build(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("cargo build --release {}", args.join(" "));
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["build", "--release"])
        .args(args)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo build --release {} failed", args.join(" "));
    }
    Ok(())
}

/// The zipped size of `binary` built for arm64 by cargo-lambda; `None` (with a note) when
/// cargo-lambda or the target is missing.
fn arm64_size(root: &Path, binary: &str) -> anyhow::Result<Option<u64>> {
    let status = Command::new("cargo")
        .current_dir(root)
        .args(["lambda", "build", "--release", "--arm64", "--bin", binary])
        .status();
    match status {
        Ok(status) if status.success() => {
            let binary = target_dir(root)
                .join("lambda")
                .join(binary)
                .join("bootstrap");
            Ok(Some(zipped_size(&binary)?))
        }
        _ => {
            eprintln!("no arm64 build (needs cargo-lambda and the aarch64 target); x86_64 only");
            Ok(None)
        }
    }
}

/// The size of `binary` zipped as Lambda takes it: one file named `bootstrap`, deflated,
/// executable.
fn zipped_size(binary: &Path) -> anyhow::Result<u64> {
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options)?;
    zip.write_all(&bytes)?;
    let archive = zip.finish()?;
    Ok(archive.get_ref().len() as u64)
}

/// A Runtime API that answers nothing: it notes when a function first asks for an event.
#[derive(Debug)]
struct RuntimeApi {
    listener: TcpListener,
    address: String,
}

impl RuntimeApi {
    fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the Runtime API")?;
        let address = listener.local_addr()?.to_string();
        Ok(Self { listener, address })
    }

    /// Starts `binary` as the function `handler` and waits for its first `next` request.
    fn measure(&self, binary: &Path, handler: &str) -> anyhow::Result<Init> {
        let started = Instant::now();
        let mut child = self.spawn(binary, handler)?;
        let measured = self.first_next(&mut child, started);
        let _ = child.kill();
        let _ = child.wait();
        measured.with_context(|| format!("starting {handler}"))
    }

    fn spawn(&self, binary: &Path, handler: &str) -> anyhow::Result<Child> {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &self.address)
            .env("_HANDLER", handler)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (name, value) in lambda_environment(handler) {
            command.env(name, value);
        }
        command
            .spawn()
            .with_context(|| format!("running {}", binary.display()))
    }

    fn first_next(&self, child: &mut Child, started: Instant) -> anyhow::Result<Init> {
        self.listener.set_nonblocking(true)?;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Some(time) = asks_for_next(&stream, started)? {
                        // Read while the request is still open: closing it ends the function.
                        let peak_rss = peak_rss(child.id())?;
                        return Ok(Init { time, peak_rss });
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(status) = child.try_wait()? {
                        bail!("exited during init ({status}) before asking for an event");
                    }
                    if started.elapsed() > INIT_TIMEOUT {
                        bail!("asked for no event within {INIT_TIMEOUT:?}");
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// The time the request on `stream` arrived, when it is a `next` request.
fn asks_for_next(stream: &TcpStream, started: Instant) -> anyhow::Result<Option<Duration>> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(INIT_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    let time = started.elapsed();
    Ok(line
        .starts_with("GET /2018-06-01/runtime/invocation/next")
        .then_some(time))
}

/// The peak resident set of process `pid` so far (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> anyhow::Result<u64> {
    let status = File::open(format!("/proc/{pid}/status"))?;
    for line in BufReader::new(status).lines() {
        let line = line?;
        if let Some(value) = line.strip_prefix("VmHWM:") {
            let kib: u64 = value.trim().trim_end_matches("kB").trim().parse()?;
            return Ok(kib * 1024);
        }
    }
    bail!("no VmHWM in /proc/{pid}/status")
}

/// What Lambda and template.yaml's globals put in a function's environment: every resource
/// named, so each function builds its handler as it would on AWS (building makes no call).
fn lambda_environment(handler: &str) -> Vec<(&'static str, String)> {
    let queue = |name: &str| format!("https://sqs.eu-west-1.amazonaws.com/123456789012/{name}");
    vec![
        ("AWS_LAMBDA_FUNCTION_NAME", format!("accounts-{handler}")),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{handler}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "report".into()),
        ("AWS_REGION", "eu-west-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIAREPORT".into()),
        ("AWS_SECRET_ACCESS_KEY", "report".into()),
        ("AWS_SESSION_TOKEN", "report".into()),
        ("RUST_LOG", "info".into()),
        ("APP_URL", "https://app.example.com".into()),
        ("TABLE_NAME", "accounts".into()),
        ("JOBS_QUEUE_URL", queue("jobs")),
        ("EVENTS_QUEUE_URL", queue("events")),
        ("BLOB_BUCKET", "accounts-blobs".into()),
        ("MAIL_FROM", "no-reply@example.com".into()),
        ("SIGNING_KEYS_SECRET", "accounts/signing-keys".into()),
        ("PUBLIC_KEYS_SECRET", "accounts/public-keys".into()),
        ("CURSOR_KEY_SECRET", "accounts/cursor-key".into()),
        (
            "PUBLIC_BLOB_URL",
            "https://d111111abcdef8.cloudfront.net".into(),
        ),
    ]
}

fn median(values: impl Iterator<Item = Duration>) -> Duration {
    let mut values: Vec<_> = values.collect();
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1_000_000.0)
}
