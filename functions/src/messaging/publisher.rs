//! Where an event goes: `job.enqueued` to the job queue (its payload is the job's message),
//! every other event to the events queue (as its JSON form).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use shared::jobs::JobMessage;
use shared::messaging::event::{Event, EventType};
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

/// The delay a job asks for, capped at the queue's maximum. A message the worker cannot read
/// goes out at once: the worker dead-letters it, where it can be looked at, rather than the
/// relay retrying it for ever.
fn job_delay(event: &Event) -> Duration {
    match event.payload::<JobMessage>() {
        Ok(message) => Duration::from_secs(message.delay_seconds).min(MAX_DELAY),
        Err(error) => {
            tracing::error!(event = %event.id, %error, "a job event that is not a job message");
            Duration::ZERO
        }
    }
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

    fn message(delay: Value) -> Value {
        json!({"job_id": Uuid::nil(), "job_type": "noop", "delay_seconds": delay})
    }

    #[test]
    fn a_job_asks_for_its_delay_up_to_the_queue_maximum() {
        assert_eq!(job_delay(&job(message(json!(30)))), Duration::from_secs(30));
        assert_eq!(job_delay(&job(message(json!(86_400)))), MAX_DELAY);
        let no_delay = json!({"job_id": Uuid::nil(), "job_type": "noop"});
        assert_eq!(job_delay(&job(no_delay)), Duration::ZERO);
    }

    #[test]
    fn a_job_event_that_is_no_job_message_goes_out_at_once() {
        assert_eq!(job_delay(&job(message(json!("soon")))), Duration::ZERO);
        assert_eq!(job_delay(&job(json!({}))), Duration::ZERO);
    }
}
