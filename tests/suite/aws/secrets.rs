//! The Secrets Manager adapter and its cache.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::secrets::Secrets;
use tests::moto::moto;
use tests::provision;

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
