//! The ports on AWS: one SDK configuration, at most one client per service, each port built
//! once. Building a client makes no network call; it connects on first use.

use std::sync::{Arc, OnceLock};

use shared::blob::BlobStore;
use shared::clock::{Clock, OsRandom, Random, SystemClock};
use shared::mail::Mailer;
use shared::queue::Queue;
use shared::secrets::Secrets;
use shared::store::ItemStore;

use super::Backend;
use crate::blob::s3::S3Blobs;
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
    clients: Clients,
    ports: Ports,
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
    blobs: OnceLock<Arc<dyn BlobStore>>,
    mailer: OnceLock<Arc<dyn Mailer>>,
    secrets: OnceLock<Arc<dyn Secrets>>,
}

impl AwsBackend {
    /// The backend a Lambda function runs on: configured from its environment, on the system
    /// clock and the operating system's randomness.
    pub async fn from_env() -> anyhow::Result<Self> {
        let env = AwsEnv::from_env()?;
        let sdk = crate::sdk::from_env()?;
        Ok(Self::new(
            sdk,
            env,
            Arc::new(SystemClock),
            Arc::new(OsRandom),
        ))
    }

    /// The backend over an explicit SDK configuration (tests point it at an emulator).
    pub fn new(
        sdk: crate::sdk::Config,
        env: AwsEnv,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        Self {
            sdk,
            env,
            clock,
            random,
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

    fn sqs(&self) -> aws_sdk_sqs::Client {
        let sdk = &self.sdk;
        self.clients
            .sqs
            .get_or_init(|| aws_sdk_sqs::Client::new(sdk))
            .clone()
    }

    fn sqs_queue(
        &self,
        cell: &OnceLock<Arc<dyn Queue>>,
        variable: &str,
        url: &Option<String>,
    ) -> anyhow::Result<Arc<dyn Queue>> {
        once(cell, || {
            let url = required(variable, url)?;
            Ok(Arc::new(SqsQueue::new(self.sqs(), url)) as Arc<dyn Queue>)
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
        self.sqs_queue(
            &self.ports.jobs_queue,
            "JOBS_QUEUE_URL",
            &self.env.jobs_queue_url,
        )
    }

    fn events_queue(&self) -> anyhow::Result<Arc<dyn Queue>> {
        self.sqs_queue(
            &self.ports.events_queue,
            "EVENTS_QUEUE_URL",
            &self.env.events_queue_url,
        )
    }

    fn blobs(&self) -> anyhow::Result<Arc<dyn BlobStore>> {
        once(&self.ports.blobs, || {
            let bucket = required("BLOB_BUCKET", &self.env.blob_bucket)?;
            let client = self
                .clients
                .s3
                .get_or_init(|| {
                    let config = aws_sdk_s3::config::Builder::from(&self.sdk)
                        .force_path_style(self.env.s3_force_path_style)
                        .build();
                    aws_sdk_s3::Client::from_conf(config)
                })
                .clone();
            Ok(Arc::new(S3Blobs::new(client, &self.sdk, bucket, self.clock.clone())) as _)
        })
    }

    fn mailer(&self) -> anyhow::Result<Arc<dyn Mailer>> {
        once(&self.ports.mailer, || {
            let from = required("MAIL_FROM", &self.env.mail_from)?;
            let client = self
                .clients
                .ses
                .get_or_init(|| aws_sdk_ses::Client::new(&self.sdk))
                .clone();
            Ok(Arc::new(SesMailer::new(client, from)) as _)
        })
    }

    fn secrets(&self) -> anyhow::Result<Arc<dyn Secrets>> {
        once(&self.ports.secrets, || {
            let client = self
                .clients
                .secrets_manager
                .get_or_init(|| aws_sdk_secretsmanager::Client::new(&self.sdk))
                .clone();
            Ok(Arc::new(SecretsManager::new(
                client,
                self.env.secrets_cache_ttl,
                self.clock.clone(),
            )) as _)
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
    fn a_port_without_its_configuration_names_the_variable() {
        let error = backend().mailer().unwrap_err().to_string();
        assert!(error.contains("MAIL_FROM"), "{error}");
    }
}
