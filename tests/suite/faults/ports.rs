//! Every port of a backend, failing one chosen call: [`FaultyBackend`] wraps the store, the
//! queues, the blob store, the upload forms, the mailer and the secrets of a local backend,
//! counts each port's calls, and fails the `at`th call of one port with one of the errors that
//! port can return.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use infra::compose::{Backend, LocalBackend};
use infra::config::Settings;
use shared::blob::{
    Blob, BlobError, BlobStore, Part, PresignedPost, UploadForms, UploadId, UploadPolicy,
};
use shared::clock::{Clock, Random};
use shared::mail::{Mail, MailError, Mailer};
use shared::queue::{Queue, QueueError, ReceivedMessage};
use shared::secrets::{Secrets, SecretsError};
use shared::store::observed::{Call, Observed, Observer};
use shared::store::{ItemStore, StoreError};

/// A port of the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Store,
    Queue,
    Blobs,
    UploadForms,
    Mailer,
    Secrets,
}

pub const PORTS: [Port; 6] = [
    Port::Store,
    Port::Queue,
    Port::Blobs,
    Port::UploadForms,
    Port::Mailer,
    Port::Secrets,
];

/// How a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The store: a condition of the write did not hold (a concurrent change).
    ConditionFailed,
    /// The call failed and did nothing (throttled, unavailable, a timeout before the work).
    FailedBefore,
    /// The call was done, but its answer never came back (a timeout after the work).
    LostAfter,
    /// The mailer: the provider refused this mail for good.
    Rejected,
    /// The mailer: the provider will not send for now (sandbox, paused sending).
    Refused,
}

impl Port {
    /// Every way a call of the port fails.
    pub fn faults(self) -> &'static [Fault] {
        match self {
            Port::Store => &[
                Fault::ConditionFailed,
                Fault::FailedBefore,
                Fault::LostAfter,
            ],
            Port::Mailer => &[
                Fault::Rejected,
                Fault::Refused,
                Fault::FailedBefore,
                Fault::LostAfter,
            ],
            Port::Queue | Port::Blobs | Port::UploadForms | Port::Secrets => {
                &[Fault::FailedBefore, Fault::LostAfter]
            }
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Where the one fault goes: the `at`th call (from 1) of `port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub port: Port,
    pub at: usize,
    pub fault: Fault,
}

/// The injected failure of a call, before the port's error type is chosen.
#[derive(Debug, Clone, Copy)]
enum Injected {
    Condition,
    Failed,
    Lost,
    Rejected,
    Refused,
}

/// Counts every port's calls and fails the one [`Plan`] names (none when counting).
#[derive(Debug, Default)]
pub struct Faults {
    plan: Option<Plan>,
    calls: [AtomicUsize; PORTS.len()],
    answered: [AtomicUsize; PORTS.len()],
    injected: AtomicUsize,
}

impl Faults {
    /// Fails nothing; counts the calls.
    pub fn counting() -> Arc<Self> {
        Arc::default()
    }

    pub fn failing(plan: Plan) -> Arc<Self> {
        Arc::new(Self {
            plan: Some(plan),
            ..Self::default()
        })
    }

    /// The calls of `port` so far.
    pub fn calls(&self, port: Port) -> usize {
        self.calls[port.index()].load(Ordering::SeqCst)
    }

    /// Whether the planned fault happened (a run may end before its call).
    pub fn injected(&self) -> bool {
        self.injected.load(Ordering::SeqCst) > 0
    }

    fn before(&self, port: Port) -> Result<(), Injected> {
        let n = self.calls[port.index()].fetch_add(1, Ordering::SeqCst) + 1;
        let Some(plan) = self.plan.filter(|plan| plan.port == port && plan.at == n) else {
            return Ok(());
        };
        let injected = match plan.fault {
            Fault::ConditionFailed => Injected::Condition,
            Fault::FailedBefore => Injected::Failed,
            Fault::Rejected => Injected::Rejected,
            Fault::Refused => Injected::Refused,
            Fault::LostAfter => return Ok(()),
        };
        self.injected.fetch_add(1, Ordering::SeqCst);
        Err(injected)
    }

    fn after(&self, port: Port) -> Result<(), Injected> {
        let n = self.answered[port.index()].fetch_add(1, Ordering::SeqCst) + 1;
        match self.plan {
            Some(plan) if plan.port == port && plan.at == n && plan.fault == Fault::LostAfter => {
                self.injected.fetch_add(1, Ordering::SeqCst);
                Err(Injected::Lost)
            }
            _ => Ok(()),
        }
    }

    /// Runs `call` as the next call of `port`: fails it before or after, as planned.
    async fn around<T, E>(
        &self,
        port: Port,
        call: impl Future<Output = Result<T, E>>,
        error: impl Fn(Injected) -> E,
    ) -> Result<T, E> {
        self.before(port).map_err(&error)?;
        let answer = call.await;
        self.after(port).map_err(&error)?;
        answer
    }
}

fn unexpected(injected: Injected) -> anyhow::Error {
    match injected {
        Injected::Lost => anyhow::anyhow!("the answer was lost after the call was done (injected)"),
        _ => anyhow::anyhow!("the call failed (injected)"),
    }
}

struct StoreFaults(Arc<Faults>);

fn store_error(injected: Injected) -> StoreError {
    match injected {
        Injected::Condition => StoreError::ConditionFailed { index: 0 },
        other => StoreError::Unexpected(unexpected(other)),
    }
}

#[async_trait]
impl Observer for StoreFaults {
    async fn before(&self, _: Call<'_>) -> Result<(), StoreError> {
        self.0.before(Port::Store).map_err(store_error)
    }

    async fn after(&self, _: &'static str) -> Result<(), StoreError> {
        self.0.after(Port::Store).map_err(store_error)
    }
}

/// A queue failing as planned.
#[derive(Debug)]
pub struct FaultyQueue {
    inner: Arc<dyn Queue>,
    faults: Arc<Faults>,
}

impl FaultyQueue {
    pub fn new(inner: Arc<dyn Queue>, faults: Arc<Faults>) -> Arc<Self> {
        Arc::new(Self { inner, faults })
    }
}

fn queue_error(injected: Injected) -> QueueError {
    QueueError::Unexpected(unexpected(injected))
}

#[async_trait]
impl Queue for FaultyQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError> {
        let call = self.inner.send(body, delay);
        self.faults.around(Port::Queue, call, queue_error).await
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let call = self.inner.receive(max, visibility, wait);
        self.faults.around(Port::Queue, call, queue_error).await
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let call = self.inner.delete(receipt);
        self.faults.around(Port::Queue, call, queue_error).await
    }

    async fn set_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        let call = self.inner.set_visibility(receipt, timeout);
        self.faults.around(Port::Queue, call, queue_error).await
    }
}

#[derive(Debug)]
struct FaultyBlobs {
    inner: Arc<dyn BlobStore>,
    faults: Arc<Faults>,
}

fn blob_error(injected: Injected) -> BlobError {
    BlobError::Unexpected(unexpected(injected))
}

#[async_trait]
impl BlobStore for FaultyBlobs {
    async fn presign_download(&self, key: &str, expires_in: Duration) -> Result<String, BlobError> {
        let call = self.inner.presign_download(key, expires_in);
        self.faults.around(Port::Blobs, call, blob_error).await
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        let call = self.inner.put(key, bytes, content_type);
        self.faults.around(Port::Blobs, call, blob_error).await
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        let call = self.inner.get(key);
        self.faults.around(Port::Blobs, call, blob_error).await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let call = self.inner.delete(key);
        self.faults.around(Port::Blobs, call, blob_error).await
    }

    async fn start_upload(&self, key: &str, content_type: &str) -> Result<UploadId, BlobError> {
        let call = self.inner.start_upload(key, content_type);
        self.faults.around(Port::Blobs, call, blob_error).await
    }

    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        bytes: Vec<u8>,
    ) -> Result<Part, BlobError> {
        let call = self.inner.upload_part(key, upload, number, bytes);
        self.faults.around(Port::Blobs, call, blob_error).await
    }

    async fn finish_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: Vec<Part>,
    ) -> Result<(), BlobError> {
        let call = self.inner.finish_upload(key, upload, parts);
        self.faults.around(Port::Blobs, call, blob_error).await
    }

    async fn abort_upload(&self, key: &str, upload: &UploadId) -> Result<(), BlobError> {
        let call = self.inner.abort_upload(key, upload);
        self.faults.around(Port::Blobs, call, blob_error).await
    }
}

#[derive(Debug)]
struct FaultyForms {
    inner: Arc<dyn UploadForms>,
    faults: Arc<Faults>,
}

#[async_trait]
impl UploadForms for FaultyForms {
    async fn presign_upload(&self, policy: &UploadPolicy) -> Result<PresignedPost, BlobError> {
        let call = self.inner.presign_upload(policy);
        self.faults
            .around(Port::UploadForms, call, blob_error)
            .await
    }
}

#[derive(Debug)]
struct FaultyMailer {
    inner: Arc<dyn Mailer>,
    faults: Arc<Faults>,
}

fn mail_error(injected: Injected) -> MailError {
    match injected {
        Injected::Rejected => MailError::Rejected("the address does not exist (injected)".into()),
        Injected::Refused => MailError::Refused("sending is paused (injected)".into()),
        other => MailError::Unexpected(unexpected(other)),
    }
}

#[async_trait]
impl Mailer for FaultyMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let call = self.inner.send(mail);
        self.faults.around(Port::Mailer, call, mail_error).await
    }

    async fn send_once(&self, key: &str, mail: &Mail) -> Result<String, MailError> {
        let call = self.inner.send_once(key, mail);
        self.faults.around(Port::Mailer, call, mail_error).await
    }
}

#[derive(Debug)]
struct FaultySecrets {
    inner: Arc<dyn Secrets>,
    faults: Arc<Faults>,
}

fn secrets_error(injected: Injected) -> SecretsError {
    SecretsError::Unexpected(unexpected(injected))
}

#[async_trait]
impl Secrets for FaultySecrets {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretsError> {
        let call = self.inner.get(name);
        self.faults.around(Port::Secrets, call, secrets_error).await
    }

    async fn put(&self, name: &str, value: &str) -> Result<(), SecretsError> {
        let call = self.inner.put(name, value);
        self.faults.around(Port::Secrets, call, secrets_error).await
    }

    async fn create(&self, name: &str, value: &str) -> Result<bool, SecretsError> {
        let call = self.inner.create(name, value);
        self.faults.around(Port::Secrets, call, secrets_error).await
    }
}

/// A local backend whose every port fails as `faults` plans.
pub struct FaultyBackend {
    inner: Arc<LocalBackend>,
    pub faults: Arc<Faults>,
}

impl fmt::Debug for FaultyBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyBackend")
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl FaultyBackend {
    pub fn new(inner: Arc<LocalBackend>, faults: Arc<Faults>) -> Self {
        Self { inner, faults }
    }

    /// The local queue `name`, failing as planned: what a queue trigger polls.
    pub fn queue(&self, name: &str) -> Arc<dyn Queue> {
        FaultyQueue::new(self.inner.local_queue(name), self.faults.clone())
    }

    fn queue_of(&self, queue: anyhow::Result<Arc<dyn Queue>>) -> anyhow::Result<Arc<dyn Queue>> {
        Ok(FaultyQueue::new(queue?, self.faults.clone()))
    }
}

impl Backend for FaultyBackend {
    fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        let observer = Arc::new(StoreFaults(self.faults.clone()));
        Ok(Arc::new(Observed::new(self.inner.store()?, observer)))
    }
    fn jobs_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.queue_of(self.inner.jobs_queue())
    }
    fn events_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.queue_of(self.inner.events_queue())
    }
    fn jobs_dlq(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.queue_of(self.inner.jobs_dlq())
    }
    fn events_dlq(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.queue_of(self.inner.events_dlq())
    }
    fn blobs(&self) -> anyhow::Result<Arc<dyn BlobStore>> {
        Ok(Arc::new(FaultyBlobs {
            inner: self.inner.blobs()?,
            faults: self.faults.clone(),
        }))
    }
    fn upload_forms(&self) -> anyhow::Result<Arc<dyn UploadForms>> {
        Ok(Arc::new(FaultyForms {
            inner: self.inner.upload_forms()?,
            faults: self.faults.clone(),
        }))
    }
    fn mailer(&self) -> anyhow::Result<Arc<dyn Mailer>> {
        Ok(Arc::new(FaultyMailer {
            inner: self.inner.mailer()?,
            faults: self.faults.clone(),
        }))
    }
    fn secrets(&self) -> anyhow::Result<Arc<dyn Secrets>> {
        Ok(Arc::new(FaultySecrets {
            inner: self.inner.secrets()?,
            faults: self.faults.clone(),
        }))
    }
    fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock()
    }
    fn random(&self) -> Arc<dyn Random> {
        self.inner.random()
    }
    fn settings(&self) -> &Settings {
        self.inner.settings()
    }
}
