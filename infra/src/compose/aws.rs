//! The ports on AWS: one SDK configuration, at most one client per service, each port built
//! once. Building a client makes no network call; it connects on first use.
//!
//! Which services beyond DynamoDB a binary can reach is its [`Services`]:
//! the SDKs of the others are never referenced, so the linker leaves them out of its package.

use std::sync::{Arc, OnceLock};

use shared::blob::{BlobStore, UploadForms};
use shared::clock::{Clock, OsRandom, Random, SystemClock};
use shared::mail::Mailer;
use shared::queue::Queue;
use shared::secrets::Secrets;
use shared::store::ItemStore;

use super::Backend;
use crate::blob::s3::{S3Blobs, S3Forms};
use crate::config::{AwsEnv, Settings, required};
use crate::mail::ses::SesMailer;
use crate::queue::sqs::SqsQueue;
use crate::secrets::secrets_manager::SecretsManager;
use crate::store::dynamo::DynamoStore;

#[derive(Debug)]
pub struct AwsBackend {
    sdk: crate::sdk::Config,
    env: AwsEnv,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    services: Services,
    clients: Clients,
    ports: Ports,
}

/// The services a binary links besides DynamoDB, which every package carries. Each is the
/// constructor of its ports: a binary whose `Services` leaves one out
/// never references its SDK, so its package is that much smaller (S3 alone brings ~1.2 MB of
/// code and checksum tables), and asking that binary for the port is an error naming the
/// service.
///
/// S3's upload forms are apart from its blob store: they are signed here from the credentials
/// and the region, with no S3 client, so a binary may hand out forms without the S3 SDK.
#[derive(Debug, Clone, Copy)]
pub struct Services {
    secrets: Option<Unaddressed<dyn Secrets>>,
    sqs: Option<Port<dyn Queue>>,
    s3: Option<Port<dyn BlobStore>>,
    s3_forms: Option<Port<dyn UploadForms>>,
    ses: Option<Port<dyn Mailer>>,
}

/// Builds a port over the backend's client of its service, given the resource it addresses
/// (a queue URL, a bucket, a sender).
type Port<P> = fn(&AwsBackend, String) -> Arc<P>;

/// Builds a port that addresses no one resource (the secrets, named per call).
type Unaddressed<P> = fn(&AwsBackend) -> Arc<P>;

impl Services {
    /// DynamoDB only: what the job worker needs besides its queue, bucket and mail, which holds
    /// no key and reads no secret.
    pub const STORE: Self = Self {
        secrets: None,
        sqs: None,
        s3: None,
        s3_forms: None,
        ses: None,
    };

    /// DynamoDB and Secrets Manager (the signing keys, the cursor key).
    pub const BASE: Self = Self::STORE.with_secrets_manager();

    /// Every service: the tools and the tests, which are not packaged for Lambda.
    pub const ALL: Self = Self::BASE.with_sqs().with_s3().with_s3_forms().with_ses();

    /// With the secrets (Secrets Manager).
    pub const fn with_secrets_manager(self) -> Self {
        Self {
            secrets: Some(secrets_manager),
            ..self
        }
    }

    /// With the queues (SQS).
    pub const fn with_sqs(self) -> Self {
        Self {
            sqs: Some(sqs_queue),
            ..self
        }
    }

    /// With the blob store (S3).
    pub const fn with_s3(self) -> Self {
        Self {
            s3: Some(s3_blobs),
            ..self
        }
    }

    /// With the bucket's upload forms (S3's presigned POST), signed without the S3 SDK.
    pub const fn with_s3_forms(self) -> Self {
        Self {
            s3_forms: Some(s3_forms),
            ..self
        }
    }

    /// With the mailer (SES).
    pub const fn with_ses(self) -> Self {
        Self {
            ses: Some(ses_mailer),
            ..self
        }
    }
}

/// The error of a port whose service the binary does not link.
fn not_linked(service: &str, port: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "this function's package does not link {service}, which its {port} needs: add it to \
         the package's services (functions/src/wiring/packages.rs)"
    )
}

fn secrets_manager(backend: &AwsBackend) -> Arc<dyn Secrets> {
    let client = backend
        .clients
        .secrets_manager
        .get_or_init(|| aws_sdk_secretsmanager::Client::new(&backend.sdk))
        .clone();
    Arc::new(SecretsManager::new(
        client,
        backend.env.secrets_cache_ttl,
        backend.clock.clone(),
    ))
}

fn sqs_queue(backend: &AwsBackend, url: String) -> Arc<dyn Queue> {
    let sdk = &backend.sdk;
    let client = backend
        .clients
        .sqs
        .get_or_init(|| aws_sdk_sqs::Client::new(sdk));
    Arc::new(SqsQueue::new(client.clone(), url))
}

fn s3_blobs(backend: &AwsBackend, bucket: String) -> Arc<dyn BlobStore> {
    let client = backend.clients.s3.get_or_init(|| {
        let config = aws_sdk_s3::config::Builder::from(&backend.sdk)
            .force_path_style(backend.env.s3_force_path_style)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    });
    Arc::new(S3Blobs::new(client.clone(), bucket, backend.clock.clone()))
}

/// Builds no client: the forms are signed from the SDK configuration's credentials and region.
fn s3_forms(backend: &AwsBackend, bucket: String) -> Arc<dyn UploadForms> {
    Arc::new(S3Forms::new(&backend.sdk, bucket, backend.clock.clone()))
}

fn ses_mailer(backend: &AwsBackend, from: String) -> Arc<dyn Mailer> {
    let sdk = &backend.sdk;
    let client = backend
        .clients
        .ses
        .get_or_init(|| aws_sdk_ses::Client::new(sdk));
    Arc::new(SesMailer::new(client.clone(), from))
}

/// One client per service, shared by every port on it (both queues use one SQS client).
#[derive(Debug, Default)]
struct Clients {
    dynamodb: OnceLock<aws_sdk_dynamodb::Client>,
    sqs: OnceLock<aws_sdk_sqs::Client>,
    s3: OnceLock<aws_sdk_s3::Client>,
    ses: OnceLock<aws_sdk_ses::Client>,
    secrets_manager: OnceLock<aws_sdk_secretsmanager::Client>,
}

#[derive(Debug, Default)]
struct Ports {
    store: OnceLock<Arc<dyn ItemStore>>,
    jobs_queue: OnceLock<Arc<dyn Queue>>,
    events_queue: OnceLock<Arc<dyn Queue>>,
    jobs_dlq: OnceLock<Arc<dyn Queue>>,
    events_dlq: OnceLock<Arc<dyn Queue>>,
    blobs: OnceLock<Arc<dyn BlobStore>>,
    upload_forms: OnceLock<Arc<dyn UploadForms>>,
    mailer: OnceLock<Arc<dyn Mailer>>,
    secrets: OnceLock<Arc<dyn Secrets>>,
}

impl AwsBackend {
    /// The backend a Lambda function runs on: configured from its environment, on the system
    /// clock and the operating system's randomness, with the `services` its binary links.
    pub async fn from_env(services: Services) -> anyhow::Result<Self> {
        let env = AwsEnv::from_env()?;
        let sdk = crate::sdk::from_env()?;
        let (clock, random) = (Arc::new(SystemClock), Arc::new(OsRandom));
        Ok(Self::with_services(sdk, env, clock, random, services))
    }

    /// The backend over an explicit SDK configuration, with every service (tests point it at
    /// an emulator).
    pub fn new(
        sdk: crate::sdk::Config,
        env: AwsEnv,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        Self::with_services(sdk, env, clock, random, Services::ALL)
    }

    /// The backend over an explicit SDK configuration, with only `services` besides DynamoDB.
    pub fn with_services(
        sdk: crate::sdk::Config,
        env: AwsEnv,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        services: Services,
    ) -> Self {
        Self {
            sdk,
            env,
            clock,
            random,
            services,
            clients: Clients::default(),
            ports: Ports::default(),
        }
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let sdk = &self.sdk;
        self.clients
            .dynamodb
            .get_or_init(|| aws_sdk_dynamodb::Client::new(sdk))
            .clone()
    }

    fn queue(
        &self,
        cell: &OnceLock<Arc<dyn Queue>>,
        variable: &str,
        url: &Option<String>,
    ) -> anyhow::Result<Arc<dyn Queue>> {
        once(cell, || {
            let build = self
                .services
                .sqs
                .ok_or_else(|| not_linked("SQS", "queue"))?;
            Ok(build(self, required(variable, url)?))
        })
    }
}

impl Backend for AwsBackend {
    fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        once(&self.ports.store, || {
            let table = required("TABLE_NAME", &self.env.table_name)?;
            Ok(Arc::new(DynamoStore::new(self.dynamodb(), table, self.clock.clone())) as _)
        })
    }

    fn jobs_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.queue(
            &self.ports.jobs_queue,
            "JOBS_QUEUE_URL",
            &self.env.jobs_queue_url,
        )
    }

    fn events_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.queue(
            &self.ports.events_queue,
            "EVENTS_QUEUE_URL",
            &self.env.events_queue_url,
        )
    }

    fn jobs_dlq(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.queue(&self.ports.jobs_dlq, "JOBS_DLQ_URL", &self.env.jobs_dlq_url)
    }

    fn events_dlq(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.queue(
            &self.ports.events_dlq,
            "EVENTS_DLQ_URL",
            &self.env.events_dlq_url,
        )
    }

    fn blobs(&self) -> anyhow::Result<Arc<dyn BlobStore>> {
        once(&self.ports.blobs, || {
            let build = self
                .services
                .s3
                .ok_or_else(|| not_linked("S3", "blob store"))?;
            Ok(build(self, required("BLOB_BUCKET", &self.env.blob_bucket)?))
        })
    }

    fn upload_forms(&self) -> anyhow::Result<Arc<dyn UploadForms>> {
        once(&self.ports.upload_forms, || {
            let build = self
                .services
                .s3_forms
                .ok_or_else(|| not_linked("S3's form signer", "upload form"))?;
            Ok(build(self, required("BLOB_BUCKET", &self.env.blob_bucket)?))
        })
    }

    fn mailer(&self) -> anyhow::Result<Arc<dyn Mailer>> {
        once(&self.ports.mailer, || {
            let build = self
                .services
                .ses
                .ok_or_else(|| not_linked("SES", "mailer"))?;
            Ok(build(self, required("MAIL_FROM", &self.env.mail_from)?))
        })
    }

    fn secrets(&self) -> anyhow::Result<Arc<dyn Secrets>> {
        once(&self.ports.secrets, || {
            let build = self
                .services
                .secrets
                .ok_or_else(|| not_linked("Secrets Manager", "secrets"))?;
            Ok(build(self))
        })
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    fn random(&self) -> Arc<dyn Random> {
        self.random.clone()
    }

    fn settings(&self) -> &Settings {
        &self.env.settings
    }
}

/// The value in `cell`, built by `build` the first time. Two first callers racing may both
/// build; one value wins and both get it.
fn once<T: Clone>(
    cell: &OnceLock<T>,
    build: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    if let Some(value) = cell.get() {
        return Ok(value.clone());
    }
    let built = build()?;
    Ok(cell.get_or_init(|| built).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend() -> AwsBackend {
        let credentials = aws_credential_types::Credentials::new("id", "key", None, None, "test");
        let sdk = crate::sdk::config("eu-west-1", credentials, None);
        let env = AwsEnv {
            table_name: Some("table".into()),
            jobs_queue_url: Some("https://sqs.eu-west-1.amazonaws.com/1/jobs".into()),
            events_queue_url: Some("https://sqs.eu-west-1.amazonaws.com/1/events".into()),
            ..AwsEnv::default()
        };
        AwsBackend::new(sdk, env, Arc::new(SystemClock), Arc::new(OsRandom))
    }

    #[test]
    fn each_port_is_built_once_and_shared() {
        let backend = backend();
        assert!(Arc::ptr_eq(
            &backend.store().unwrap(),
            &backend.store().unwrap()
        ));
        assert!(Arc::ptr_eq(
            &backend.jobs_queue().unwrap(),
            &backend.jobs_queue().unwrap()
        ));
        assert!(Arc::ptr_eq(
            &backend.secrets().unwrap(),
            &backend.secrets().unwrap()
        ));
    }

    #[test]
    fn only_the_clients_of_the_ports_asked_for_are_built() {
        let backend = backend();
        backend.store().unwrap();
        backend.jobs_queue().unwrap();
        backend.events_queue().unwrap();
        let clients = &backend.clients;
        assert!(clients.dynamodb.get().is_some());
        assert!(clients.sqs.get().is_some());
        assert!(clients.s3.get().is_none());
        assert!(clients.ses.get().is_none());
        assert!(clients.secrets_manager.get().is_none());
    }

    #[test]
    fn upload_forms_are_signed_without_an_s3_client() {
        let b = backend();
        let services = Services::BASE.with_s3_forms();
        let env = AwsEnv {
            blob_bucket: Some("bucket".into()),
            ..b.env
        };
        let forms = AwsBackend::with_services(b.sdk, env, b.clock, b.random, services);
        assert!(Arc::ptr_eq(
            &forms.upload_forms().unwrap(),
            &forms.upload_forms().unwrap()
        ));
        assert!(forms.clients.s3.get().is_none());
        let error = forms.blobs().unwrap_err().to_string();
        assert!(error.contains("does not link S3,"), "{error}");
    }

    #[test]
    fn a_port_whose_service_the_binary_does_not_link_says_so() {
        let b = backend();
        let base = AwsBackend::with_services(b.sdk, b.env, b.clock, b.random, Services::BASE);
        let error = base.jobs_queue().unwrap_err().to_string();
        assert!(error.contains("does not link SQS"), "{error}");
        let error = base.blobs().unwrap_err().to_string();
        assert!(error.contains("does not link S3"), "{error}");
        let error = base.upload_forms().unwrap_err().to_string();
        assert!(error.contains("does not link S3's form signer"), "{error}");
        base.store().unwrap();
        base.secrets().unwrap();
        let b = backend();
        let store = AwsBackend::with_services(b.sdk, b.env, b.clock, b.random, Services::STORE);
        let error = store.secrets().unwrap_err().to_string();
        assert!(error.contains("does not link Secrets Manager"), "{error}");
        store.store().unwrap();
    }

    #[test]
    fn a_port_without_its_configuration_names_the_variable() {
        let error = backend().mailer().unwrap_err().to_string();
        assert!(error.contains("MAIL_FROM"), "{error}");
        let error = backend().jobs_dlq().unwrap_err().to_string();
        assert!(error.contains("JOBS_DLQ_URL"), "{error}");
        let error = backend().events_dlq().unwrap_err().to_string();
        assert!(error.contains("EVENTS_DLQ_URL"), "{error}");
    }
}
