//! The Secrets Manager adapter and its cache.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::secrets::{Secrets, SecretsError};
use tests::moto::moto;
use tests::provision;

#[tokio::test]
async fn a_secret_is_created_once_and_updated_by_put() -> anyhow::Result<()> {
    let secrets = provision::secrets(
        moto().await?,
        Duration::from_secs(300),
        Arc::new(SystemClock),
    );
    let name = provision::unique("app/signing-key");
    assert_eq!(secrets.get(&name).await?, None);
    assert!(secrets.create(&name, "first").await?);
    assert!(
        !secrets.create(&name, "second").await?,
        "a second create loses"
    );
    assert_eq!(secrets.get(&name).await?.as_deref(), Some("first"));
    secrets.put(&name, "third").await?;
    assert_eq!(secrets.get(&name).await?.as_deref(), Some("third"));

    let fresh = provision::unique("app/put-creates");
    secrets.put(&fresh, "v").await?;
    assert_eq!(secrets.get(&fresh).await?.as_deref(), Some("v"));
    Ok(())
}

#[tokio::test]
async fn a_cached_secret_is_refreshed_after_the_cache_ttl() -> anyhow::Result<()> {
    let moto = moto().await?;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let reader = provision::secrets(
        moto,
        Duration::from_secs(60),
        clock.clone() as Arc<dyn Clock>,
    );
    let writer = provision::secrets(moto, Duration::from_secs(60), Arc::new(SystemClock));
    let name = provision::unique("app/cached");
    writer.put(&name, "v1").await?;
    assert_eq!(reader.get(&name).await?.as_deref(), Some("v1"));

    writer.put(&name, "v2").await?;
    assert_eq!(
        reader.get(&name).await?.as_deref(),
        Some("v1"),
        "still cached"
    );
    clock.advance(TimeDelta::seconds(61));
    assert_eq!(reader.get(&name).await?.as_deref(), Some("v2"));
    assert!(
        !format!("{reader:?}").contains("v2"),
        "values stay out of debug output"
    );
    Ok(())
}

#[tokio::test]
async fn an_invalid_secret_name_is_refused() -> anyhow::Result<()> {
    let secrets = provision::secrets(
        moto().await?,
        Duration::from_secs(60),
        Arc::new(SystemClock),
    );
    let result = secrets.get("../etc/passwd").await;
    assert!(
        matches!(result, Err(SecretsError::InvalidName(_))),
        "{result:?}"
    );
    Ok(())
}
