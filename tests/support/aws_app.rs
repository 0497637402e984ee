//! The system under test on the AWS adapters: every endpoint served in-process over a backend
//! whose resources live on the emulator, and the mail pipeline driven on demand.
//!
//! [`spawn_aws_app`] provisions a fresh table, events and job queues (each with a dead-letter
//! queue), a signing key set and a sender address of its own, seeds the role catalog, and
//! serves every route of the table of functions on a loopback port, each built as its Lambda
//! main builds it. What the event source mappings do on AWS is done by
//! [`AwsApp::deliver_mail`]: the relay reads the table's stream on the emulator (`GetRecords`,
//! filtered as its trigger in template.yaml) and publishes the outbox events it shows, the
//! consumer turns account events into `send_email` jobs, and the worker sends their mails
//! through SES. Nothing runs in the background, so a test sees the pipeline move only when it
//! asks for mail.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use functions::trigger::{ScheduleHandler, StreamHandler};
use functions::wiring::{
    self, AVATAR_UPLOADED, CONSUMER, FUNCTIONS, RECONCILE_OUTBOX, RELAY, WORKER,
};
use infra::compose::{AwsBackend, Backend};
use infra::config::{AwsEnv, DEFAULT_TOKEN_AUDIENCE, Settings};
use local_system::queue_pump::QueuePump;
use serde_json::Value;
use shared::auth::keys::KeySet;
use shared::clock::{OsRandom, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::moto::{Moto, moto};
use crate::provision;
use crate::stream::{Filter, PumpTotals, StreamPump, TableStream};

/// Receives before a message dead-letters, as in the template.
const MAX_RECEIVES: u32 = shared::jobs::enqueue::MAX_RECEIVES;

/// How long a received message stays hidden: a message a handler failed comes back after this.
const VISIBILITY: Duration = Duration::from_secs(30);

/// The system on the emulator, and a client for it.
#[derive(Debug)]
pub struct AwsApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub client: reqwest::Client,
    backend: AwsBackend,
    /// The sender of this system's mail: no other test's mail comes from it.
    mail_from: String,
    emulator: String,
    /// The relay, and its event source mapping on the table's stream.
    relay: Arc<dyn StreamHandler>,
    relay_mapping: StreamPump,
    reconcile: Arc<dyn ScheduleHandler>,
    consumer: QueuePump,
    worker: QueuePump,
    /// The bucket's upload notifications, for the `avatar_uploaded` handler.
    uploads: QueuePump,
    /// The mail sent so far, read from the emulator; `None` once more may have been sent.
    sent: Mutex<Option<Vec<SentMail>>>,
    stopping: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
}

/// One mail SES accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    pub to: Vec<String>,
    pub subject: String,
    /// The emulator keeps one body per mail: the HTML part.
    pub body: String,
}

/// Provisions the system's resources on the emulator and starts serving.
pub async fn spawn_aws_app() -> anyhow::Result<AwsApp> {
    AwsApp::start(moto().await?).await
}

impl AwsApp {
    async fn start(moto: &Moto) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port")?;
        let address = format!("http://{}", listener.local_addr()?);
        let (table, events, jobs, (), bucket) = tokio::try_join!(
            provision::table(moto),
            provision::queues(moto, MAX_RECEIVES, VISIBILITY),
            provision::queues(moto, MAX_RECEIVES, VISIBILITY),
            provision::mail_identity(moto),
            provision::bucket(moto),
        )?;
        provision::public_prefix(moto, &bucket, shared::blob::PUBLIC_PREFIX).await?;
        let uploads = provision::upload_notifications(
            moto,
            &bucket,
            functions::jobs::process_avatar::QUARANTINE_PREFIX,
        )
        .await?;
        // Any address on the verified domain may send.
        let mail_from = format!("{}@{}", provision::unique("auth"), provision::MAIL_DOMAIN);
        let env = AwsEnv {
            settings: Settings {
                // The links point at this server, as `APP_URL` would point at the front end.
                app_url: Some(address.clone()),
                signing_keys_secret: provision::unique("signing-keys"),
                public_keys_secret: provision::unique("public-keys"),
                outbox_reconcile_after: Duration::ZERO,
                public_blob_url: Some(format!("{}/{bucket}", moto.endpoint())),
                token_issuer: address.clone(),
                token_audience: DEFAULT_TOKEN_AUDIENCE.to_owned(),
                ..Settings::default()
            },
            table_name: Some(table.clone()),
            jobs_queue_url: Some(jobs.queue),
            events_queue_url: Some(events.queue),
            jobs_dlq_url: Some(jobs.dead_letters),
            events_dlq_url: Some(events.dead_letters),
            mail_from: Some(mail_from.clone()),
            blob_bucket: Some(bucket.clone()),
            s3_force_path_style: true,
            secrets_cache_ttl: Duration::from_secs(60),
        };
        let backend = AwsBackend::new(
            moto.sdk_config(),
            env,
            Arc::new(SystemClock),
            Arc::new(OsRandom),
        );
        crate::local::prepare_identity(&backend)
            .await
            .context("creating the signing keys and seeding the role catalog")?;

        let app = functions::http::app(
            wiring::router(&backend, FUNCTIONS)?,
            &wiring::routes(FUNCTIONS),
        );
        let (stopping, mut stopped) = watch::channel(false);
        let server = tokio::spawn(
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .into_future(),
        );

        // Started after the catalog is seeded, as the relay's mapping starts at the stream's
        // tip when it is deployed.
        let relay_mapping =
            StreamPump::latest(TableStream::of_table(moto, &table).await?, Filter::relay()?)
                .await?;
        let worker = WORKER.queue_handler(&backend)?;
        let consumer = CONSUMER.queue_handler(&backend)?;
        let uploads_queue = Arc::new(infra::queue::sqs::SqsQueue::new(
            provision::sqs_client(moto),
            uploads,
        ));
        Ok(Self {
            relay: RELAY.stream_handler(&backend)?,
            relay_mapping,
            reconcile: RECONCILE_OUTBOX.schedule_handler(&backend)?,
            consumer: QueuePump::new("events", backend.events_queue()?, consumer)
                .with_timing(VISIBILITY, Duration::ZERO),
            worker: QueuePump::new("jobs", backend.jobs_queue()?, worker)
                .with_timing(VISIBILITY, Duration::ZERO),
            uploads: QueuePump::new(
                "uploads",
                uploads_queue,
                AVATAR_UPLOADED.queue_handler(&backend)?,
            )
            .with_timing(VISIBILITY, Duration::ZERO),
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .context("building the client")?,
            emulator: moto.endpoint().to_owned(),
            address,
            backend,
            mail_from,
            sent: Mutex::new(None),
            stopping,
            server,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn backend(&self) -> &AwsBackend {
        &self.backend
    }

    /// The signing key set, as stored.
    pub async fn signing_keys(&self) -> anyhow::Result<KeySet> {
        let secrets = self.backend.secrets()?;
        let name = &self.backend.settings().signing_keys_secret;
        Ok(KeySet::load(secrets.as_ref(), name).await?)
    }

    /// Publishes the outbox events the table's stream shows since the last call, through the
    /// relay, as its event source mapping does on AWS.
    async fn relay_stream(&self) -> anyhow::Result<()> {
        let pumped = self.relay_mapping.drain(self.relay.as_ref()).await?;
        anyhow::ensure!(
            pumped.failed_at.is_none(),
            "the relay failed a record: {pumped:?}"
        );
        Ok(())
    }

    /// What the relay's mapping has read and delivered so far.
    pub fn relay_totals(&self) -> PumpTotals {
        self.relay_mapping.totals()
    }

    /// Runs the outbox reconciliation once (with no minimum age): it publishes what the relay
    /// left pending. Returns its report.
    pub async fn reconcile_outbox(&self) -> anyhow::Result<Value> {
        self.reconcile.handle(EventBridgeEvent::default()).await
    }

    /// One turn of the background pipeline: hands upload notifications to their handler,
    /// relays the stream, consumes one batch of the events queue, relays the jobs that
    /// enqueued, and works one batch of the job queue. Returns how many jobs finished.
    pub async fn deliver_mail(&self) -> anyhow::Result<usize> {
        self.uploads.pump_once().await?;
        self.relay_stream().await?;
        self.consumer.pump_once().await?;
        self.relay_stream().await?;
        let worked = self.worker.pump_once().await?;
        if worked.deleted > 0 {
            *self.sent.lock().unwrap() = None;
        }
        Ok(worked.deleted)
    }

    /// Every mail this system sent, oldest first, after one turn of [`AwsApp::deliver_mail`].
    pub async fn sent_mail(&self) -> anyhow::Result<Vec<SentMail>> {
        self.deliver_mail().await?;
        let known = self.sent.lock().unwrap().clone();
        if let Some(sent) = known {
            return Ok(sent);
        }
        // The emulator's model dump holds everything it ever stored: read it only when a job
        // may have sent something since the last read.
        let sent = self.read_sent_mail().await?;
        *self.sent.lock().unwrap() = Some(sent.clone());
        Ok(sent)
    }

    async fn read_sent_mail(&self) -> anyhow::Result<Vec<SentMail>> {
        let data: Value = crate::moto::model_dump(&self.emulator, &self.client).await?;
        let text = |m: &Value, field: &str| {
            m[field]
                .as_str()
                .unwrap_or_else(|| panic!("a sent mail without a {field}: {m}"))
                .to_owned()
        };
        Ok(data["ses"]["Message"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["source"] == self.mail_from.as_str())
            .map(|m| SentMail {
                to: m["destinations"]["ToAddresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                subject: text(m, "subject"),
                body: text(m, "body"),
            })
            .collect())
    }

    /// Stops the server, letting requests in flight finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stopping.send_replace(true);
        self.server
            .await
            .context("the server task failed")?
            .context("the server failed")
    }
}
