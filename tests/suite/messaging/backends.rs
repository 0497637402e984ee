//! Fresh pipeline ports per test: on the local adapters, and on the AWS adapters against the
//! emulator.

use std::sync::Arc;

use infra::queue::local::{DeadLetter, LocalQueue};
use infra::store::dynamo::DynamoStore;
use infra::store::sqlite::LocalStore;
use shared::clock::SystemClock;
use tests::local::LocalEnv;
use tests::moto::moto;
use tests::provision;
use tests::stream::{Filter, StreamPump, TableStream};

use super::harness::{Ctx, LocalFeed};

/// Receives of a message before it dead-letters, in both backends.
const MAX_RECEIVES: u32 = 3;

pub async fn local() -> anyhow::Result<(Ctx, LocalEnv)> {
    let env = LocalEnv::new()?;
    let db = env.db()?;
    let queue = |name: &str| {
        let dead_letter = DeadLetter {
            queue: format!("{name}-dlq"),
            max_receives: MAX_RECEIVES,
        };
        Arc::new(LocalQueue::new(
            db.clone(),
            name,
            env.clock.clone(),
            Some(dead_letter),
        ))
    };
    let store = Arc::new(LocalStore::new(db.clone(), env.clock.clone()));
    let ctx = Ctx {
        stream: Arc::new(LocalFeed {
            store: store.clone(),
        }),
        store,
        events: queue("events"),
        jobs: queue("jobs"),
    };
    Ok((ctx, env))
}

pub async fn aws() -> anyhow::Result<(Ctx, ())> {
    let moto = moto().await?;
    let (events, _) = provision::queue_pair(moto, MAX_RECEIVES).await?;
    let (jobs, _) = provision::queue_pair(moto, MAX_RECEIVES).await?;
    let table = provision::table(moto).await?;
    let stream = StreamPump::latest(TableStream::of_table(moto, &table).await?, Filter::relay()?);
    let ctx = Ctx {
        store: Arc::new(DynamoStore::new(
            provision::dynamodb_client(moto),
            table,
            Arc::new(SystemClock),
        )),
        stream: Arc::new(stream.await?),
        events: Arc::new(events),
        jobs: Arc::new(jobs),
    };
    Ok((ctx, ()))
}
