//! The secrets store's conformance cases: get, put, create-if-absent.

use std::sync::Arc;

use shared::secrets::{Secrets, SecretsError};

pub struct SecretsCtx {
    pub secrets: Arc<dyn Secrets>,
    /// A prefix no other test uses, for every secret name of the case.
    pub ns: String,
}

impl SecretsCtx {
    fn name(&self, name: &str) -> String {
        format!("{}/{name}", self.ns)
    }
}

pub async fn a_missing_secret_is_none(ctx: SecretsCtx) -> anyhow::Result<()> {
    assert_eq!(ctx.secrets.get(&ctx.name("nothing")).await?, None);
    Ok(())
}

pub async fn a_put_secret_reads_back_and_a_second_put_overwrites_it(
    ctx: SecretsCtx,
) -> anyhow::Result<()> {
    let name = ctx.name("signing-keys");
    ctx.secrets.put(&name, "first value").await?;
    assert_eq!(
        ctx.secrets.get(&name).await?.as_deref(),
        Some("first value")
    );
    ctx.secrets.put(&name, "{\"second\": \"value\"}").await?;
    assert_eq!(
        ctx.secrets.get(&name).await?.as_deref(),
        Some("{\"second\": \"value\"}")
    );
    Ok(())
}

pub async fn only_the_first_create_wins(ctx: SecretsCtx) -> anyhow::Result<()> {
    let name = ctx.name("pepper");
    assert!(ctx.secrets.create(&name, "first").await?);
    assert!(!ctx.secrets.create(&name, "second").await?);
    assert_eq!(ctx.secrets.get(&name).await?.as_deref(), Some("first"));

    let put_first = ctx.name("put-first");
    ctx.secrets.put(&put_first, "put").await?;
    assert!(!ctx.secrets.create(&put_first, "created").await?);
    assert_eq!(ctx.secrets.get(&put_first).await?.as_deref(), Some("put"));
    Ok(())
}

pub async fn of_racing_creators_exactly_one_wins(ctx: SecretsCtx) -> anyhow::Result<()> {
    let name = ctx.name("raced");
    let racers: Vec<_> = (0..4)
        .map(|i| {
            let (secrets, name) = (Arc::clone(&ctx.secrets), name.clone());
            tokio::spawn(async move {
                anyhow::Ok((i, secrets.create(&name, &format!("value {i}")).await?))
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        if let (i, true) = racer.await?? {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        ctx.secrets.get(&name).await?,
        Some(format!("value {}", winners[0]))
    );
    Ok(())
}

pub async fn an_invalid_secret_name_is_refused(ctx: SecretsCtx) -> anyhow::Result<()> {
    for name in ["../etc/passwd", "", "with space", "a//b"] {
        let invalid = |result: Result<(), SecretsError>| {
            assert!(
                matches!(&result, Err(SecretsError::InvalidName(n)) if n == name),
                "{name:?}: {result:?}"
            );
        };
        invalid(ctx.secrets.get(name).await.map(drop));
        invalid(ctx.secrets.put(name, "v").await);
        invalid(ctx.secrets.create(name, "v").await.map(drop));
    }
    Ok(())
}

/// Instantiates every secrets case for one implementation: `secrets_suite!(local, factory)` where
/// `factory()` is an async fn returning `anyhow::Result<(SecretsCtx, guard)>`. An implementation that
/// cannot show a case adds `except { case: "why" }` (see `instantiate!`).
macro_rules! secrets_suite {
    ($name:ident, $factory:expr $(, except { $($skip:ident: $reason:literal),* $(,)? })?) => {
        mod $name {
            crate::conformance::instantiate!($factory; except { $($($skip: $reason),*)? };
                a_missing_secret_is_none,
                a_put_secret_reads_back_and_a_second_put_overwrites_it,
                only_the_first_create_wins,
                of_racing_creators_exactly_one_wins,
                an_invalid_secret_name_is_refused,
            );
        }
    };
}
secrets_suite!(local, crate::conformance::local::secrets);
secrets_suite!(aws, crate::conformance::aws::secrets);
