//! The background work under faults: the relay, the consumer, the worker and the upload
//! notifications, each built as its Lambda main builds it and driven as its trigger drives it,
//! over ports that fail one call. A batch that fails is delivered again, as the stream and the
//! queues do; then the work goes on without faults. Whatever failed, the effects must be those
//! of a run without a fault: every event relayed, each reaction's jobs made once, every job
//! finished, every queue drained, each mail sent once (a job mails under its id, which the local
//! mailbox keeps once). The one exception is the mailer's own: a mail the provider rejected for
//! good is not sent, its job failed.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::TimeDelta;
use functions::wiring::{AVATAR_UPLOADED, CONSUMER, Function, RELAY, Trigger, WORKER};
use image::{ImageFormat, RgbImage};
use infra::compose::{Backend, UPLOADS_QUEUE};
use local_system::feed_pump::FeedPump;
use local_system::queue_pump::QueuePump;
use shared::accounts::ClientInfo;
use shared::blob::UploadPolicy;
use shared::jobs::JobStatus;
use shared::queue::Queue;
use shared::users::UserRepo;
use uuid::Uuid;

use super::accounts::EMAIL;
use super::{Case, Fault, Faults, FaultyBackend, Fresh, Outcome, Plan, Port};
use crate::auth::PASSWORD;

pub fn cases() -> Vec<Box<dyn Case>> {
    vec![
        Box::new(Background::new(
            "mail a new account its link",
            Prepared::Registered,
        )),
        Box::new(Background::new(
            "make an uploaded avatar",
            Prepared::AvatarUploaded,
        )),
        Box::new(Background::new(
            "erase a deleted account",
            Prepared::Deleted,
        )),
    ]
}

/// How long a received message stays hidden, as the template's visibility timeout.
const VISIBILITY: Duration = Duration::from_secs(30);

/// The relay, the consumer, the worker and the upload notifications over one backend.
struct Pipeline {
    feed: FeedPump,
    queues: Vec<QueuePump>,
}

impl Pipeline {
    /// Every function built over `backend`, each trigger polling the queue `queue` gives.
    fn over(
        system: &Fresh,
        backend: &dyn Backend,
        queue: impl Fn(&str) -> Arc<dyn Queue>,
    ) -> anyhow::Result<Self> {
        let feed = FeedPump::new(
            RELAY.name,
            system.backend.local_store(),
            RELAY.stream_handler(backend)?,
        );
        let polled = |function: &Function| -> anyhow::Result<QueuePump> {
            let Trigger::Queue { queue: name } = function.trigger() else {
                anyhow::bail!("{} has no queue", function.name);
            };
            Ok(
                QueuePump::new(name, queue(name), function.queue_handler(backend)?)
                    .with_timing(VISIBILITY, Duration::ZERO),
            )
        };
        Ok(Self {
            feed,
            queues: vec![
                polled(&CONSUMER)?,
                polled(&WORKER)?,
                polled(&AVATAR_UPLOADED)?,
            ],
        })
    }

    /// Runs until nothing is left to do: when idle, the clock moves on so hidden messages and
    /// retries come due. A trigger's failure is part of the work (its batch comes again).
    async fn settle(&self, system: &Fresh) {
        let mut idle = 0;
        for _ in 0..300 {
            let mut work = self.feed.pump_once().await.map_or(1, |o| o.delivered);
            for queue in &self.queues {
                work += queue.pump_once().await.map_or(1, |o| o.received);
            }
            if work > 0 {
                idle = 0;
                continue;
            }
            // Past the longest backoff and any visibility timeout: one move brings due
            // whatever waits.
            idle += 1;
            if idle > 1 {
                return;
            }
            system.clock.advance(TimeDelta::minutes(16));
        }
    }
}

impl Fresh {
    /// Runs the background work until nothing is left.
    pub async fn settle(&self) -> anyhow::Result<()> {
        let backend = self.backend.as_ref();
        Pipeline::over(self, backend, |name| self.backend.local_queue(name))?
            .settle(self)
            .await;
        Ok(())
    }

    /// [`Fresh::settle`] over ports failing as `backend` plans, its triggers' queues too.
    pub async fn settle_over(&self, backend: &FaultyBackend) -> anyhow::Result<()> {
        Pipeline::over(self, backend, |name| backend.queue(name))?
            .settle(self)
            .await;
        Ok(())
    }
}

/// What the background work is given to do.
#[derive(Debug, Clone, Copy)]
enum Prepared {
    /// A new account: its link to mail.
    Registered,
    /// An avatar in quarantine and its upload notification.
    AvatarUploaded,
    /// A signed-in account with an avatar, deleted: its remains and its avatar to erase.
    Deleted,
}

/// What the work came to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Effects {
    /// Jobs by type.
    jobs: BTreeMap<String, usize>,
    /// Jobs not finished, as `type status`.
    unfinished: Vec<String>,
    /// Jobs failed for good.
    failed: usize,
    /// Mails sent.
    mails: usize,
    /// Events not relayed.
    pending: usize,
    /// Messages left on any queue, dead-letter queues included.
    messages: usize,
    /// The account's avatar: `Some(true)` when set and stored.
    avatar: Option<bool>,
    /// Sessions left to the account.
    sessions: usize,
    /// Blobs stored, quarantined uploads included.
    blobs: usize,
}

/// The background work on what `prepared` made; the reference is its run without a fault.
struct Background {
    name: &'static str,
    prepared: Prepared,
    user: Mutex<Option<Uuid>>,
    reference: Mutex<Option<Effects>>,
}

impl Background {
    fn new(name: &'static str, prepared: Prepared) -> Self {
        Self {
            name,
            prepared,
            user: Mutex::default(),
            reference: Mutex::default(),
        }
    }

    fn user(&self) -> anyhow::Result<Uuid> {
        let user = self.user.lock().unwrap_or_else(PoisonError::into_inner);
        user.context("the case was not prepared")
    }

    async fn effects(&self, outcome: &Outcome<'_>) -> anyhow::Result<Effects> {
        let (state, backend) = (&outcome.state, &outcome.system.backend);
        let user = self.user()?;
        let mut jobs = BTreeMap::new();
        for job in &state.jobs {
            *jobs.entry(job.job_type.clone()).or_default() += 1;
        }
        let mails = backend.mailbox().list().await?;
        let avatar = match UserRepo::new(backend.store()?).get(user).await? {
            Some(user) => match user.avatar_key {
                Some(key) => Some(backend.blobs()?.get(&key).await?.is_some()),
                None => None,
            },
            None => None,
        };
        Ok(Effects {
            jobs,
            unfinished: state
                .jobs
                .iter()
                .filter(|job| !job.status.is_final())
                .map(|job| format!("{} {}", job.job_type, job.status))
                .collect(),
            failed: state
                .jobs
                .iter()
                .filter(|job| matches!(job.status, JobStatus::Failed | JobStatus::Dead))
                .count(),
            mails: mails.len(),
            pending: state.pending().len(),
            messages: state.messages,
            avatar,
            sessions: state.sessions.iter().filter(|s| s.user_id == user).count(),
            blobs: files_under(&outcome.system.dir.path().join("blobs")),
        })
    }
}

/// The files under a directory, at any depth.
fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => files_under(&entry.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

fn png() -> Vec<u8> {
    let pixels = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut bytes = Vec::new();
    pixels
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .expect("encoding a PNG");
    bytes
}

/// Signs a form for an avatar of `user`, as the route does, then puts the avatar in quarantine
/// under the form's key and announces it, as the upload through the form does. `uploads` is
/// the queue the blob store announces uploads on. The notification sent.
pub async fn upload_avatar(
    backend: &dyn Backend,
    uploads: Arc<dyn Queue>,
    user: Uuid,
) -> anyhow::Result<String> {
    let policy = UploadPolicy {
        key: format!(
            "{}{user}/{}",
            functions::jobs::process_avatar::QUARANTINE_PREFIX,
            Uuid::now_v7()
        ),
        content_type: "image/png".into(),
        max_bytes: functions::jobs::process_avatar::MAX_UPLOAD_BYTES,
        expires_in: functions::users::upload_avatar::FORM_LIFETIME,
    };
    let form = backend.upload_forms()?.presign_upload(&policy).await?;
    let key = form.fields.get("key").context("a form without its key")?;
    let bytes = png();
    let size = bytes.len();
    backend.blobs()?.put(key, bytes, "image/png").await?;
    let notification =
        infra::blob::local::object_created(key, size, backend.clock().now()).to_string();
    uploads.send(&notification, Duration::ZERO).await?;
    Ok(notification)
}

#[async_trait]
impl Case for Background {
    fn name(&self) -> &'static str {
        self.name
    }

    /// Not a condition that fails where none could: the relay and the consumer read a failed
    /// condition as proof that another delivery did the work (the event marked relayed, the
    /// claim taken), which only a real concurrent delivery gives, and those are what the
    /// queue's lost answers and failed deletes make here.
    fn faults(&self, port: Port) -> Vec<Fault> {
        let mut faults = port.faults().to_vec();
        faults.retain(|fault| *fault != Fault::ConditionFailed);
        faults
    }

    async fn prepare(&self, system: &Fresh) -> anyhow::Result<()> {
        let accounts = system.backend.accounts()?;
        let verified = !matches!(self.prepared, Prepared::Registered);
        let account = tests::local::new_account(EMAIL, PASSWORD, verified)?;
        let user = if verified {
            accounts.create(account).await?
        } else {
            accounts.register(account, &ClientInfo::default()).await?
        };
        *self.user.lock().unwrap_or_else(PoisonError::into_inner) = Some(user.id);
        match self.prepared {
            Prepared::Registered => {}
            Prepared::AvatarUploaded => {
                system.settle().await?;
                upload_avatar(
                    system.backend.as_ref(),
                    system.backend.local_queue(UPLOADS_QUEUE),
                    user.id,
                )
                .await?;
            }
            Prepared::Deleted => {
                let issuer = system.backend.token_issuer()?;
                accounts
                    .login(&issuer, EMAIL, PASSWORD, &ClientInfo::default())
                    .await?;
                upload_avatar(
                    system.backend.as_ref(),
                    system.backend.local_queue(UPLOADS_QUEUE),
                    user.id,
                )
                .await?;
                system.settle().await?;
                accounts.delete_account(user.id).await?;
            }
        }
        Ok(())
    }

    async fn run(&self, system: &Fresh, backend: &FaultyBackend) {
        if let Err(e) = system.settle_over(backend).await {
            panic!("building the pipeline: {e:#}");
        }
    }

    async fn recover(&self, system: &Fresh) -> anyhow::Result<()> {
        system.settle().await
    }

    async fn violations(&self, outcome: &Outcome<'_>) -> anyhow::Result<Vec<String>> {
        let found = self.effects(outcome).await?;
        let mut reference = self
            .reference
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(expected) = reference.clone() else {
            let mut wrong = Vec::new();
            if !found.unfinished.is_empty() || found.pending > 0 || found.messages > 0 {
                wrong.push(format!("the work never finished: {found:?}"));
            }
            *reference = Some(found);
            return Ok(wrong);
        };
        // A job that mailed but could not record it (its answer lost, its save failed) mails
        // again under the same key, which the local mailbox keeps once: exactly the mails of a
        // run without a fault. (SES keeps no keys: there such a retry mails twice.)
        let mut allowed = expected.clone();
        if outcome.failed(Port::Mailer, Fault::Rejected) && found.mails + 1 == expected.mails {
            allowed.mails -= 1;
            allowed.failed += 1;
        }
        Ok(if found == allowed {
            Vec::new()
        } else {
            vec![format!("found {found:?}, expected {allowed:?}")]
        })
    }
}

/// A verified account with an avatar uploaded and announced, and the announcement.
async fn uploaded() -> anyhow::Result<(Fresh, String)> {
    let system = Fresh::new().await?;
    let account = tests::local::new_account(EMAIL, PASSWORD, true)?;
    let user = system.backend.accounts()?.create(account).await?;
    let uploads = system.backend.local_queue(UPLOADS_QUEUE);
    let notification = upload_avatar(system.backend.as_ref(), uploads, user.id).await?;
    Ok((system, notification))
}

/// The local blob store's files: the avatars and the quarantine.
fn blobs_of(system: &Fresh) -> usize {
    files_under(&system.dir.path().join("blobs"))
}

#[tokio::test]
async fn an_upload_notification_delivered_twice_queues_one_job() -> anyhow::Result<()> {
    let (system, notification) = uploaded().await?;
    let uploads = system.backend.local_queue(UPLOADS_QUEUE);
    uploads.send(&notification, Duration::ZERO).await?;
    system.settle().await?;

    let state = system.state()?;
    let jobs: Vec<_> = state
        .jobs
        .iter()
        .filter(|job| job.job_type == "process_avatar")
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(blobs_of(&system), 1, "the avatar alone is left");
    Ok(())
}

#[tokio::test]
async fn a_retried_avatar_job_leaves_no_second_blob() -> anyhow::Result<()> {
    let (system, _) = uploaded().await?;
    // The job's second blob call is the avatar's put: it is done, and its answer lost.
    let plan = Plan {
        port: Port::Blobs,
        at: 2,
        fault: Fault::LostAfter,
    };
    let faults = Faults::failing(plan);
    system.settle_over(&system.faulty(faults.clone())).await?;
    assert!(faults.injected(), "the put was never made");
    system.settle().await?;

    let user = UserRepo::new(system.backend.store()?)
        .id_by_email(&shared::users::Email::parse(EMAIL)?)
        .await?
        .context("the account")?;
    let avatar = UserRepo::new(system.backend.store()?)
        .get(user)
        .await?
        .and_then(|user| user.avatar_key)
        .context("no avatar was set")?;
    assert!(system.backend.blobs()?.get(&avatar).await?.is_some());
    assert_eq!(blobs_of(&system), 1, "the avatar alone is left");
    Ok(())
}
