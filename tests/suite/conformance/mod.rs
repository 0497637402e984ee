//! Adapter conformance: each port's cases are written once, generic over the port, and
//! instantiated per implementation by the suite's macro, so a test reads
//! `conformance::<port>::<implementation>::<case>`.
//!
//! Each case takes a small context (the port behind an `Arc<dyn _>`, plus what keeps tests
//! apart) from an async factory returning `(context, guard)`; the guard lives as long as the
//! test (a temporary directory, a server).

pub mod aws;
pub mod blob;
pub mod local;
pub mod mail;
pub mod queue;
pub mod secrets;
pub mod store;

use std::future::Future;
use std::time::Duration;

/// One `#[tokio::test]` per case, calling `super::<case>` with a context from `$factory`, except
/// for the cases listed under `except`: an implementation that cannot show a case (its emulator
/// lacks the behaviour) names it there with the reason, and the case is not generated for it.
/// The port contract stays the case; the exclusion is visible where the suite is instantiated.
macro_rules! instantiate {
    ($factory:expr; except { $($skip:ident: $reason:literal),* }; $($case:ident),+ $(,)?) => {
        // An excluded case must exist, and its reason must be a string.
        $(const _: &str = { let _ = super::$skip; $reason };)*

        macro_rules! case {
            $(($skip) => {};)*
            ($name:ident) => {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    let (ctx, _guard) = ($factory)().await?;
                    super::$name(ctx).await
                }
            };
        }
        $(case!($case);)+
    };
}
pub(crate) use instantiate;

/// How long a case waits for something that should happen within a few seconds.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Calls `attempt` until it yields a value or [`PATIENCE`] runs out.
pub async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = attempt().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("gave up waiting: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A name no other test uses, for keys and queues shared with other tests.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
