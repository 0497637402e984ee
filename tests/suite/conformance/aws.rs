//! Contexts for the AWS adapters: fresh resources per test on the one shared emulator.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use shared::clock::SystemClock;
use tests::moto::{Moto, moto};
use tests::provision;

use super::blob::BlobCtx;
use super::mail::{MailCtx, SentMail, SentMessage};
use super::queue::QueueCtx;
use super::secrets::SecretsCtx;
use super::store::StoreCtx;
use super::unique;

/// The emulator outlives every test, so a test holds nothing.
type NoGuard = ();

pub async fn store() -> anyhow::Result<(StoreCtx, NoGuard)> {
    let store = provision::store(moto().await?).await?;
    Ok((
        StoreCtx {
            store: Arc::new(store),
            ns: unique("store"),
        },
        (),
    ))
}

pub async fn queue() -> anyhow::Result<(QueueCtx, NoGuard)> {
    let max_receives = 2;
    let (queue, dlq) = provision::queue_pair(moto().await?, max_receives).await?;
    Ok((
        QueueCtx {
            queue: Arc::new(queue),
            dlq: Arc::new(dlq),
            max_receives,
        },
        (),
    ))
}

pub async fn blob() -> anyhow::Result<(BlobCtx, NoGuard)> {
    let (blobs, forms) = provision::blobs(moto().await?).await?;
    Ok((
        BlobCtx {
            blobs: Arc::new(blobs),
            forms: Arc::new(forms),
        },
        (),
    ))
}

/// The emulator's record of the mail SES sent, from its model dump.
#[derive(Debug)]
struct MotoSentMail {
    endpoint: String,
    http: reqwest::Client,
}

#[async_trait]
impl SentMail for MotoSentMail {
    async fn sent_to(&self, to: &str) -> anyhow::Result<Vec<SentMessage>> {
        let data: Value = tests::moto::model_dump(&self.endpoint, &self.http).await?;
        let text = |m: &Value, field: &str| {
            m[field]
                .as_str()
                .unwrap_or_else(|| panic!("a sent mail without a {field}: {m}"))
                .to_owned()
        };
        // The emulator keeps one body per mail: the HTML part when there is one.
        Ok(data["ses"]["Message"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| {
                m["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|addresses| addresses.iter().any(|a| a == to))
            })
            .map(|m| SentMessage {
                id: text(m, "id"),
                to: to.to_owned(),
                subject: text(m, "subject"),
                text: String::new(),
                html: text(m, "body"),
            })
            .collect())
    }
}

pub async fn mail() -> anyhow::Result<(MailCtx, NoGuard)> {
    let moto: &Moto = moto().await?;
    let ctx = MailCtx {
        mailer: Arc::new(provision::mailer(moto).await?),
        sent: Arc::new(MotoSentMail {
            endpoint: moto.endpoint().to_owned(),
            http: reqwest::Client::new(),
        }),
    };
    Ok((ctx, ()))
}

pub async fn secrets() -> anyhow::Result<(SecretsCtx, NoGuard)> {
    // No caching, so every read sees the emulator: the cache has its own AWS test.
    let secrets = provision::secrets(moto().await?, Duration::ZERO, Arc::new(SystemClock));
    Ok((
        SecretsCtx {
            secrets: Arc::new(secrets),
            ns: unique("secrets"),
        },
        (),
    ))
}
