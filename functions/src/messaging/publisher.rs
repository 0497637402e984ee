//! Where an event goes: `job.enqueued` to the job queue (its payload is the job's message),
//! every other event to the events queue (as its JSON form).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use shared::messaging::event::{Event, EventType, JOB_DELAY_FIELD};
use shared::queue::{MAX_DELAY, Queue};

#[derive(Debug, Clone)]
pub struct Publisher {
    events: Arc<dyn Queue>,
    jobs: Arc<dyn Queue>,
}

impl Publisher {
    pub fn new(events: Arc<dyn Queue>, jobs: Arc<dyn Queue>) -> Self {
        Self { events, jobs }
    }


    /// Sends the event's message; returns the message id.
    pub async fn publish(&self, event: &Event) -> anyhow::Result<String> {
        let (queue, body, delay) = match event.event_type {
            EventType::JobEnqueued => (&self.jobs, event.payload.to_string(), job_delay(event)),
            _ => (&self.events, event.to_json(), Duration::ZERO),
        };
        queue
            .send(&body, delay)
            .await
            .with_context(|| format!("publishing {} event {}", event.event_type, event.id))
    }
}

/// The delay a job asks for, capped at the queue's maximum; none when absent or not a number.
fn job_delay(event: &Event) -> Duration {
    let seconds = event
        .payload
        .get(JOB_DELAY_FIELD)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    Duration::from_secs(seconds).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::{Value, json};
    use uuid::Uuid;

    fn job(payload: Value) -> Event {
        Event::new(
            Uuid::nil(),
            EventType::JobEnqueued,
            "job-1",
            payload,
            Utc::now(),
        )
    }

    #[test]
    fn a_job_asks_for_its_delay_up_to_the_queue_maximum() {
        assert_eq!(
            job_delay(&job(json!({"delay_seconds": 30}))),
            Duration::from_secs(30)
        );
        assert_eq!(job_delay(&job(json!({"delay_seconds": 86_400}))), MAX_DELAY);
        assert_eq!(
            job_delay(&job(json!({"delay_seconds": "soon"}))),
            Duration::ZERO
        );
        assert_eq!(job_delay(&job(json!({}))), Duration::ZERO);
    }
}
