//! Contexts for the local adapters: a fresh data directory (and server) per test.

use std::sync::Arc;

use async_trait::async_trait;
use infra::mail::mailbox::Mailbox;
use infra::queue::local::{DeadLetter, LocalQueue};
use infra::secrets::local::LocalSecrets;
use infra::store::sqlite::LocalStore;
use tests::local::{BlobServer, LocalEnv};

use super::blob::BlobCtx;
use super::mail::{MailCtx, SentMail, SentMessage};
use super::queue::QueueCtx;
use super::secrets::SecretsCtx;
use super::store::StoreCtx;
use super::unique;

pub async fn store() -> anyhow::Result<(StoreCtx, LocalEnv)> {
    let env = LocalEnv::new()?;
    let store = LocalStore::new(env.db()?, Arc::clone(&env.clock));
    Ok((
        StoreCtx {
            store: Arc::new(store),
            ns: unique("store"),
        },
        env,
    ))
}

pub async fn queue() -> anyhow::Result<(QueueCtx, LocalEnv)> {
    let env = LocalEnv::new()?;
    let db = env.db()?;
    let max_receives = 2;
    let dead_letter = DeadLetter {
        queue: "jobs-dlq".into(),
        max_receives,
    };
    let queue = LocalQueue::new(
        db.clone(),
        "jobs",
        Arc::clone(&env.clock),
        Some(dead_letter),
    );
    let dlq = LocalQueue::new(db, "jobs-dlq", Arc::clone(&env.clock), None);
    Ok((
        QueueCtx {
            queue: Arc::new(queue),
            dlq: Arc::new(dlq),
            max_receives,
        },
        env,
    ))
}

pub async fn blob() -> anyhow::Result<(BlobCtx, (BlobServer, LocalEnv))> {
    let env = LocalEnv::new()?;
    let server = BlobServer::start(&env).await?;
    Ok((
        BlobCtx {
            blobs: server.blobs.clone(),
            forms: server.blobs.clone(),
        },
        (server, env),
    ))
}

/// The mailbox read back through its own listing.
#[derive(Debug)]
struct MailboxReader(Mailbox);

#[async_trait]
impl SentMail for MailboxReader {
    async fn sent_to(&self, to: &str) -> anyhow::Result<Vec<SentMessage>> {
        let stored = self.0.list().await?;
        Ok(stored
            .into_iter()
            .filter(|m| m.to == to)
            .map(|m| SentMessage {
                id: m.id,
                to: m.to,
                subject: m.subject,
                text: m.text,
                html: m.html,
            })
            .collect())
    }
}

pub async fn mail() -> anyhow::Result<(MailCtx, LocalEnv)> {
    let env = LocalEnv::new()?;
    let mailbox = Mailbox::new(env.path().join("mail"), Arc::clone(&env.clock));
    let ctx = MailCtx {
        mailer: Arc::new(mailbox.clone()),
        sent: Arc::new(MailboxReader(mailbox)),
    };
    Ok((ctx, env))
}

pub async fn secrets() -> anyhow::Result<(SecretsCtx, LocalEnv)> {
    let env = LocalEnv::new()?;
    let secrets = LocalSecrets::new(env.path().join("secrets"));
    Ok((
        SecretsCtx {
            secrets: Arc::new(secrets),
            ns: unique("secrets"),
        },
        env,
    ))
}
