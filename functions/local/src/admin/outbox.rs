//! `outbox status`: the events the relay has not published yet, counted.
//!
//! A few pending events, none older than a few seconds, is the relay at work. Events older than
//! the reconciliation's threshold mean the stream (locally, the change feed) lost them or the
//! relay is failing; `reconcile_outbox` publishes them on its next run.

use chrono::{DateTime, TimeDelta, Utc};
use infra::compose::Backend;
use shared::messaging::outbox::pending_summary;

pub(super) async fn status(backend: &dyn Backend) -> anyhow::Result<String> {
    let now = backend.clock().now();
    let threshold = backend.settings().outbox_reconcile_after;
    let cutoff = now - TimeDelta::from_std(threshold).unwrap_or(TimeDelta::MAX);
    let summary = pending_summary(backend.store()?.as_ref(), cutoff).await?;
    let Some(oldest) = summary.oldest else {
        return Ok("no pending outbox events".to_owned());
    };
    Ok(format!(
        "{} pending outbox event{}; the oldest ({}, {}) occurred {} ago, at {}; {} older than \
         the reconciliation's threshold of {} s",
        summary.count,
        if summary.count == 1 { "" } else { "s" },
        oldest.event_type,
        oldest.id,
        age(now, oldest.occurred_at),
        oldest.occurred_at.to_rfc3339(),
        summary.older_than_cutoff,
        threshold.as_secs(),
    ))
}

/// A duration for a person: `42 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`.
fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds().max(0);
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min {} s", seconds % 60),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::messaging::event::{Event, EventType};
    use shared::messaging::outbox::outbox_write;
    use uuid::Uuid;

    use super::*;
    use crate::admin::tests::{admin, local};

    #[tokio::test]
    async fn outbox_status_counts_the_pending_events_and_names_the_oldest() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let backend = local(dir.path()).await?;
        let (empty, _) = admin(dir.path(), &["outbox", "status"]).await?;
        assert_eq!(empty, "no pending outbox events");

        // One the relay would have published long ago, and one just written.
        let now = backend.clock().now();
        let lost = Event::new(
            Uuid::now_v7(),
            EventType::UserDeleted,
            "someone",
            json!({}),
            now - TimeDelta::hours(2),
        );
        let fresh = Event::new(
            Uuid::now_v7(),
            EventType::UserRegistered,
            "someone else",
            json!({}),
            now,
        );
        let store = backend.store()?;
        store
            .transact(vec![outbox_write(&lost), outbox_write(&fresh)])
            .await?;

        let (said, _) = admin(dir.path(), &["outbox", "status"]).await?;
        assert!(
            said.starts_with(&format!(
                "2 pending outbox events; the oldest (user.deleted, {}) occurred 2 h 0 min ago",
                lost.id
            )),
            "{said}"
        );
        assert!(
            said.ends_with("; 1 older than the reconciliation's threshold of 300 s"),
            "{said}"
        );
        Ok(())
    }

    #[test]
    fn an_age_reads_in_its_largest_units() {
        let now = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let ago = |s: i64| age(now, now - TimeDelta::seconds(s));
        assert_eq!(ago(42), "42 s");
        assert_eq!(ago(185), "3 min 5 s");
        assert_eq!(ago(2 * 3600 + 600), "2 h 10 min");
        assert_eq!(ago(3 * 86_400 + 4 * 3600 + 59), "3 d 4 h");
        assert_eq!(age(now, now + TimeDelta::seconds(5)), "0 s");
    }
}
