//! The local EventBridge: fires each schedule's handler with a real scheduled event when its
//! expression says so.
//!
//! Time comes from the [`Clock`] port, so a test can move it and call [`Scheduler::fire_due`].
//! A schedule that missed several times while the process was away fires once, not once per
//! missed time.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde_json::Value;
use shared::clock::Clock;
use tokio::sync::watch;
use uuid::Uuid;

use crate::schedule::Schedule;
use functions::trigger::ScheduleHandler;

/// The longest the scheduler sleeps before looking at the clock again, so a clock that jumps
/// (a laptop waking up) is noticed soon.
const MAX_SLEEP: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Scheduler {
    clock: Arc<dyn Clock>,
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    name: String,
    schedule: Schedule,
    handler: Arc<dyn ScheduleHandler>,
    next: Option<DateTime<Utc>>,
}

/// One firing of one schedule.
#[derive(Debug)]
pub struct Fired {
    pub name: String,
    pub at: DateTime<Utc>,
    pub result: anyhow::Result<Value>,
}

impl Scheduler {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Vec::new(),
        }
    }

    /// Adds a schedule, counted from now.
    pub fn add(
        &mut self,
        name: &str,
        expression: &str,
        handler: Arc<dyn ScheduleHandler>,
    ) -> anyhow::Result<()> {
        let schedule =
            Schedule::parse(expression).with_context(|| format!("the schedule of {name}"))?;
        let next = schedule.next_after(self.clock.now());
        tracing::info!(schedule = name, expression, next = ?next, "scheduled");
        self.entries.push(Entry {
            name: name.to_owned(),
            schedule,
            handler,
            next,
        });
        Ok(())
    }

    /// When the next schedule is due.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.entries.iter().filter_map(|e| e.next).min()
    }

    /// Fires every schedule that is due, one after the other, and moves each to its next time.
    pub async fn fire_due(&mut self) -> Vec<Fired> {
        let now = self.clock.now();
        let mut fired = Vec::new();
        for entry in &mut self.entries {
            let Some(due) = entry.next.filter(|due| *due <= now) else {
                continue;
            };
            let result = entry
                .handler
                .handle(scheduled_event(&entry.name, due))
                .await;
            match &result {
                Ok(report) => tracing::info!(schedule = %entry.name, %report, "schedule ran"),
                Err(error) => {
                    tracing::error!(schedule = %entry.name, error = %format_args!("{error:#}"), "schedule failed")
                }
            }
            let following = entry.schedule.next_after(due);
            // Missed times are skipped: the next firing is the first one still ahead.
            entry.next = following
                .filter(|t| *t > now)
                .or_else(|| entry.schedule.next_after(now));
            fired.push(Fired {
                name: entry.name.clone(),
                at: due,
                result,
            });
        }
        fired
    }

    /// Fires schedules as they come due until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let wait = self
                .next_due()
                .map(|due| (due - self.clock.now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP);
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = tokio::time::sleep(wait) => {}
            }
            self.fire_due().await;
        }
    }
}

/// The event EventBridge sends a scheduled rule's target.
pub fn scheduled_event(rule: &str, at: DateTime<Utc>) -> EventBridgeEvent<Value> {
    let mut event = EventBridgeEvent::<Value>::default();
    event.version = Some("0".to_owned());
    event.id = Some(Uuid::new_v4().to_string());
    event.detail_type = "Scheduled Event".to_owned();
    event.source = "aws.events".to_owned();
    event.account = Some(super::ACCOUNT.to_owned());
    event.time = Some(at);
    event.region = Some(super::REGION.to_owned());
    event.resources = Some(vec![format!(
        "arn:aws:events:{}:{}:rule/{rule}",
        super::REGION,
        super::ACCOUNT
    )]);
    event.detail = Value::Object(serde_json::Map::new());
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use chrono::TimeDelta;
    use shared::clock::ManualClock;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Recorder {
        events: Mutex<Vec<EventBridgeEvent<Value>>>,
    }

    #[async_trait]
    impl ScheduleHandler for Recorder {
        async fn handle(&self, event: EventBridgeEvent<Value>) -> anyhow::Result<Value> {
            self.events.lock().unwrap().push(event);
            Ok(Value::Null)
        }
    }

    impl Recorder {
        fn times(&self) -> Vec<Option<DateTime<Utc>>> {
            self.events.lock().unwrap().iter().map(|e| e.time).collect()
        }
    }

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap()
    }

    #[tokio::test]
    async fn a_rate_fires_each_period_and_not_before() {
        let clock = Arc::new(ManualClock::new(start()));
        let recorder = Arc::new(Recorder::default());
        let mut scheduler = Scheduler::new(clock.clone());
        assert!(
            scheduler
                .add("tick", "rate(1 hour)", recorder.clone())
                .is_ok()
        );

        clock.advance(TimeDelta::minutes(59));
        assert!(scheduler.fire_due().await.is_empty());
        clock.advance(TimeDelta::minutes(1));
        let fired = scheduler.fire_due().await;
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].at, start() + TimeDelta::hours(1));
        assert_eq!(scheduler.next_due(), Some(start() + TimeDelta::hours(2)));
    }

    #[tokio::test]
    async fn missed_times_fire_once() {
        let clock = Arc::new(ManualClock::new(start()));
        let recorder = Arc::new(Recorder::default());
        let mut scheduler = Scheduler::new(clock.clone());
        assert!(
            scheduler
                .add("tick", "cron(0/10 * * * ? *)", recorder.clone())
                .is_ok()
        );

        clock.advance(TimeDelta::minutes(35));
        assert_eq!(scheduler.fire_due().await.len(), 1);
        assert_eq!(
            recorder.times(),
            vec![Some(start() + TimeDelta::minutes(10))]
        );
        assert_eq!(scheduler.next_due(), Some(start() + TimeDelta::minutes(40)));
    }

    #[tokio::test]
    async fn the_event_is_a_scheduled_event_of_the_rule() {
        let clock = Arc::new(ManualClock::new(start()));
        let recorder = Arc::new(Recorder::default());
        let mut scheduler = Scheduler::new(clock.clone());
        assert!(
            scheduler
                .add("nightly", "cron(0 3 * * ? *)", recorder.clone())
                .is_ok()
        );
        clock.advance(TimeDelta::days(1));
        scheduler.fire_due().await;

        let events = recorder.events.lock().unwrap().clone();
        assert_eq!(events.len(), 1);
        let json = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(json["detail-type"], "Scheduled Event");
        assert_eq!(json["source"], "aws.events");
        assert_eq!(json["time"], "2026-01-02T03:00:00Z");
        assert!(
            json["resources"][0]
                .as_str()
                .is_some_and(|r| r.ends_with(":rule/nightly")),
            "{json}"
        );
    }

    #[test]
    fn an_invalid_expression_is_refused_with_the_schedule_name() {
        let mut scheduler = Scheduler::new(Arc::new(ManualClock::new(start())));
        let error = scheduler.add("broken", "rate(1 week)", Arc::new(Recorder::default()));
        assert!(
            error
                .as_ref()
                .is_err_and(|e| format!("{e:#}").contains("broken")),
            "{error:?}"
        );
    }
}
