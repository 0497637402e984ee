//! The AWS emulator the suites talk to: one moto server per test process, on loopback.
//!
//! `AWS_EMULATOR_ENDPOINT` points the suites at a running emulator instead (one that applies
//! each request atomically, as AWS does). Otherwise the server is started from the Python tools
//! on first use, on a port the OS picks, and lives as long as the test process: a small Python
//! wrapper serves moto one request at a time (see `WRAPPER`) and exits when its stdin reaches
//! end of file, and the write end of that pipe is held in a static that is never dropped, so
//! the server goes when the process goes, however it ends.
//!
//! Tests share the one server and run in parallel, so they never reset it: each test names its
//! own resources uniquely (see [`crate::provision`]).

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use aws_credential_types::Credentials;
use infra::sdk::Config as SdkConfig;
use tokio::sync::OnceCell;

use crate::python;

/// Serves moto on a free loopback port, prints the port, and serves until its stdin closes.
///
/// Moto handles concurrent requests on threads without isolating them from each other, so two
/// `UpdateItem` calls on one item can both read the old value and one addition is lost, where
/// DynamoDB applies each request to an item atomically. Requests are therefore applied one at a
/// time, as AWS appears to a client. A receive is the exception: its long poll waits for other
/// requests' messages, and moto's queues guard their own messages.
const WRAPPER: &str = r#"
import os, sys, threading
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app,
)

moto = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()

def serialized(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":
        return moto(environ, start_response)
    with one_at_a_time:
        return list(moto(environ, start_response))

server = make_server(
    "127.0.0.1", 0, serialized, threaded=True, request_handler=MotoRequestHandler,
)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(server.server_port, flush=True)
sys.stdout = sys.stderr
sys.stdin.read()
os._exit(0)
"#;

/// The region every client of the emulator names.
pub const REGION: &str = "us-east-1";

/// How long the emulator may take to start (Python imports included).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The running emulator.
#[derive(Debug)]
pub struct Moto {
    endpoint: String,
    /// Present when this process started the server; holds its stdin open.
    _server: Option<Server>,
}

#[derive(Debug)]
struct Server {
    _stdin: ChildStdin,
    _child: Child,
}

/// The emulator of this test process, started on first use.
pub async fn moto() -> anyhow::Result<&'static Moto> {
    static MOTO: OnceCell<Moto> = OnceCell::const_new();
    MOTO.get_or_try_init(start).await
}

/// Reads the emulator's model dump (`/moto-api/data.json`, where it keeps the mail SES sent).
/// moto fails to dump while an object completed by an upload in parts exists (the blob
/// conformance case removes its own at once): a failed dump is read again for a few seconds.
pub async fn model_dump(
    endpoint: &str,
    http: &reqwest::Client,
) -> anyhow::Result<serde_json::Value> {
    let url = format!("{endpoint}/moto-api/data.json");
    let mut attempts = 0;
    loop {
        let response = http.get(&url).send().await?;
        if response.status().is_server_error() && attempts < 50 {
            attempts += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        return response
            .error_for_status()?
            .json()
            .await
            .context("reading the emulator's model dump");
    }
}

impl Moto {
    /// The emulator's base URL, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK configuration for the emulator: us-east-1, static test credentials, the
    /// emulator as the endpoint of every service. Build clients from it inside the test that
    /// uses them (clients hold connection pools tied to the runtime they were used on).
    pub fn sdk_config(&self) -> SdkConfig {
        let credentials = Credentials::new("testing", "testing", None, None, "moto");
        infra::sdk::config(REGION, credentials, Some(&self.endpoint))
    }
}

async fn start() -> anyhow::Result<Moto> {
    let moto = match std::env::var("AWS_EMULATOR_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Moto {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            _server: None,
        },
        _ => tokio::task::spawn_blocking(launch)
            .await
            .context("starting moto")??,
    };
    wait_until_answering(&moto.endpoint).await?;
    Ok(moto)
}

fn launch() -> anyhow::Result<Moto> {
    let python = python::tools()?.join("python");
    let logs = python::target_dir().join("moto");
    fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let log = logs.join(format!("moto-{}.log", std::process::id()));
    let stderr = File::create(&log).with_context(|| format!("creating {}", log.display()))?;

    let mut child = Command::new(&python)
        .args(["-c", WRAPPER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {}", python.display()))?;
    let stdin = child.stdin.take().context("moto's stdin")?;
    let stdout = child.stdout.take().context("moto's stdout")?;

    let (port_tx, port_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = port_tx.send(lines.next());
        // Keep draining, so a chatty library can never block the server on a full pipe.
        lines.for_each(drop);
    });
    let port = match port_rx.recv_timeout(START_TIMEOUT) {
        Ok(Some(Ok(line))) => line
            .trim()
            .parse::<u16>()
            .with_context(|| format!("moto printed {line:?}"))?,
        Ok(_) => bail!("moto exited before listening; see {}", log.display()),
        Err(_) => bail!(
            "moto did not start within {START_TIMEOUT:?}; see {}",
            log.display()
        ),
    };
    Ok(Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        _server: Some(Server {
            _stdin: stdin,
            _child: child,
        }),
    })
}

/// Polls until the emulator answers HTTP at all (the status does not matter).
async fn wait_until_answering(endpoint: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let url = format!("{endpoint}/moto-api/data.json");
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        match client.get(&url).send().await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(e)
                    .with_context(|| format!("the emulator at {endpoint} does not answer"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
