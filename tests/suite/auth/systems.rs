//! The two systems the flows run against: the local system, whose mail lands in its mailbox on
//! its own, and the AWS adapters on the emulator, whose mail moves when asked for.

use std::sync::Arc;

use infra::compose::{Backend, LocalBackend};
use infra::config::LocalConfig;
use infra::secrets::local::LocalSecrets;
use shared::auth::keys::{DEFAULT_SECRET_NAME, KeySet};
use shared::store::ItemStore;
use tests::app::TestApp;
use tests::aws_app::AwsApp;
use uuid::Uuid;

use super::{AuthSystem, PASSWORD};

/// A verified account with `roles`, created through the backend's use cases.
async fn create_user(backend: &dyn Backend, email: &str, roles: Vec<Uuid>) -> anyhow::Result<Uuid> {
    let mut account = tests::local::new_account(email, PASSWORD, true)?;
    account.extra_roles = roles;
    Ok(backend.accounts()?.create(account).await?.id)
}

impl AuthSystem for TestApp {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn url(&self, path: &str) -> String {
        TestApp::url(self, path)
    }

    async fn mails_to(&self, to: &str) -> anyhow::Result<Vec<String>> {
        // The mailbox lists the newest first.
        Ok(self
            .mailbox()
            .await?
            .iter()
            .rev()
            .filter(|m| m["to"] == to)
            .filter_map(|m| m["text"].as_str())
            .map(str::to_owned)
            .collect())
    }

    async fn signing_keys(&self) -> anyhow::Result<KeySet> {
        // Where the local backend keeps its secrets (see `infra::compose::LocalBackend`).
        let secrets = LocalSecrets::new(self.data_dir().join("secrets"));
        Ok(KeySet::load(&secrets, DEFAULT_SECRET_NAME).await?)
    }

    async fn create_user(&self, email: &str, roles: Vec<Uuid>) -> anyhow::Result<Uuid> {
        // A second handle on the running system's data directory, as the admin command is.
        let config = LocalConfig::new(self.data_dir(), &self.address);
        let backend = LocalBackend::open_default(config).await?;
        create_user(&backend, email, roles).await
    }

    async fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        let config = LocalConfig::new(self.data_dir(), &self.address);
        LocalBackend::open_default(config).await?.store()
    }
}

impl AuthSystem for AwsApp {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn url(&self, path: &str) -> String {
        AwsApp::url(self, path)
    }

    async fn mails_to(&self, to: &str) -> anyhow::Result<Vec<String>> {
        Ok(self
            .sent_mail()
            .await?
            .into_iter()
            .filter(|m| m.to.iter().any(|address| address == to))
            .map(|m| m.body)
            .collect())
    }

    async fn signing_keys(&self) -> anyhow::Result<KeySet> {
        AwsApp::signing_keys(self).await
    }

    async fn create_user(&self, email: &str, roles: Vec<Uuid>) -> anyhow::Result<Uuid> {
        create_user(self.backend(), email, roles).await
    }

    async fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        self.backend().store()
    }
}
