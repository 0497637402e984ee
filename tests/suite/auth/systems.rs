//! The two systems the flows run against: the local system, whose mail lands in its mailbox on
//! its own, and the AWS adapters on the emulator, whose mail moves when asked for.

use infra::secrets::local::LocalSecrets;
use shared::auth::keys::{DEFAULT_SECRET_NAME, KeySet};
use tests::app::TestApp;
use tests::aws_app::AwsApp;

use super::AuthSystem;

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
}
