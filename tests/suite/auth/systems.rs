//! The two systems the flows run against: the local system, whose mail lands in its mailbox on
//! its own, and the AWS adapters on the emulator, whose mail moves when asked for.

use std::path::Path;
use std::sync::Arc;

use infra::compose::{Backend, LocalBackend};
use infra::config::LocalConfig;
use infra::secrets::local::LocalSecrets;
use serde_json::Value;
use shared::auth::keys::{DEFAULT_SECRET_NAME, KeySet};
use shared::store::ItemStore;
use tests::app::TestApp;
use tests::aws_app::AwsApp;
use uuid::Uuid;

use super::{AuthSystem, PASSWORD};

/// A verified account with `roles`, created through the backend's use cases.
pub(super) async fn create_user(
    backend: &dyn Backend,
    email: &str,
    roles: Vec<Uuid>,
) -> anyhow::Result<Uuid> {
    let mut account = tests::local::new_account(email, PASSWORD, true)?;
    account.extra_roles = roles;
    Ok(backend.accounts()?.create(account).await?.id)
}

/// The text of every mail to `to` in a local mailbox listing (newest first), oldest first.
pub(super) fn mails_in(mailbox: &[Value], to: &str) -> Vec<String> {
    mailbox
        .iter()
        .rev()
        .filter(|m| m["to"] == to)
        .filter_map(|m| m["text"].as_str())
        .map(str::to_owned)
        .collect()
}

/// A second handle on a running local system's data, as the admin command opens it.
pub(super) async fn local_backend(data_dir: &Path, address: &str) -> anyhow::Result<LocalBackend> {
    LocalBackend::open_default(LocalConfig::new(data_dir, address)).await
}

impl AuthSystem for TestApp {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn url(&self, path: &str) -> String {
        TestApp::url(self, path)
    }

    async fn mails_to(&self, to: &str) -> anyhow::Result<Vec<String>> {
        Ok(mails_in(&self.mailbox().await?, to))
    }

    async fn signing_keys(&self) -> anyhow::Result<KeySet> {
        // Where the local backend keeps its secrets (see `infra::compose::LocalBackend`).
        let secrets = LocalSecrets::new(self.data_dir().join("secrets"));
        Ok(KeySet::load(&secrets, DEFAULT_SECRET_NAME).await?)
    }

    async fn create_user(&self, email: &str, roles: Vec<Uuid>) -> anyhow::Result<Uuid> {
        let backend = local_backend(self.data_dir(), &self.address).await?;
        create_user(&backend, email, roles).await
    }

    async fn step_background(&self) -> anyhow::Result<()> {
        Ok(())
    }

    async fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        local_backend(self.data_dir(), &self.address).await?.store()
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

    async fn step_background(&self) -> anyhow::Result<()> {
        self.deliver_mail().await.map(drop)
    }

    async fn store(&self) -> anyhow::Result<Arc<dyn ItemStore>> {
        self.backend().store()
    }
}
