//! Domain events: what happened, to which aggregate, when.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Every kind of event, serialized as its dotted name (`user.registered`).
///
/// A consumer that meets a name it does not know cannot parse the event: add the variant
/// before anything emits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "user.registered")]
    UserRegistered,
    #[serde(rename = "user.email_verification_requested")]
    UserEmailVerificationRequested,
    #[serde(rename = "user.password_reset_requested")]
    UserPasswordResetRequested,
    #[serde(rename = "user.password_changed")]
    UserPasswordChanged,
    #[serde(rename = "user.deleted")]
    UserDeleted,
    /// A background job was recorded; its payload is the job's queue message. The relay sends
    /// it to the job queue instead of the events queue.
    #[serde(rename = "job.enqueued")]
    JobEnqueued,
}

impl EventType {
    pub const ALL: &[EventType] = &[
        EventType::UserRegistered,
        EventType::UserEmailVerificationRequested,
        EventType::UserPasswordResetRequested,
        EventType::UserPasswordChanged,
        EventType::UserDeleted,
        EventType::JobEnqueued,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserRegistered => "user.registered",
            EventType::UserEmailVerificationRequested => "user.email_verification_requested",
            EventType::UserPasswordResetRequested => "user.password_reset_requested",
            EventType::UserPasswordChanged => "user.password_changed",
            EventType::UserDeleted => "user.deleted",
            EventType::JobEnqueued => "job.enqueued",
        }
    }

    /// The version of the payload shape events of this type are written with now. Bump it when
    /// the shape changes incompatibly, so consumers can tell old events from new.
    pub fn schema_version(self) -> u32 {
        1
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

/// The payload of one event type, declared once: the producer writes it with [`Event::of`] and
/// every consumer reads it with [`Event::payload`].
pub trait EventPayload: Serialize + DeserializeOwned {
    const TYPE: EventType;
}

/// Why an event's payload could not be read as the type asked for.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("a {found} event read as a {wanted} event")]
    OtherType { wanted: EventType, found: EventType },
    #[error("the payload of a {0} event does not fit its type")]
    Shape(EventType, #[source] serde_json::Error),
    /// Written by a newer build: read as the current version, its payload could be misread.
    #[error(
        "a {event_type} event of schema version {found}, newer than this build reads ({known})"
    )]
    NewerVersion {
        event_type: EventType,
        found: u32,
        known: u32,
    },
}

/// One event. Its JSON form is the message body on the events queue.
///
/// Payloads are stored in the outbox (for a week after relay) and travel through the queue:
/// they carry ids and facts, never a secret, token or password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique per event; consumers deduplicate on it.
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The id of the thing the event is about (a user id, a job id).
    pub aggregate_id: String,
    pub payload: Value,
    pub occurred_at: DateTime<Utc>,
    pub schema_version: u32,
    /// The trace of the request that recorded it ([`crate::trace`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl Event {
    /// An event of the current schema version of its type. `id` comes from the id source (a
    /// UUIDv7, so ids sort by time) and `occurred_at` from the clock.
    pub fn new(
        id: Uuid,
        event_type: EventType,
        aggregate_id: impl Into<String>,
        payload: Value,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            event_type,
            aggregate_id: aggregate_id.into(),
            payload,
            occurred_at,
            schema_version: event_type.schema_version(),
            trace_id: crate::trace::current(),
        }
    }

    /// An event of `P`'s type about `aggregate_id`.
    pub fn of<P: EventPayload>(
        id: Uuid,
        aggregate_id: impl Into<String>,
        payload: &P,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        // Payloads are structs of ids, strings, numbers and flags, which serialize infallibly.
        #[allow(clippy::expect_used)]
        let payload = serde_json::to_value(payload).expect("an event payload is JSON");
        Self::new(id, P::TYPE, aggregate_id, payload, occurred_at)
    }

    /// The payload as `P`; an error when the event is of another type or does not fit `P`.
    pub fn payload<P: EventPayload>(&self) -> Result<P, PayloadError> {
        if self.event_type != P::TYPE {
            return Err(PayloadError::OtherType {
                wanted: P::TYPE,
                found: self.event_type,
            });
        }
        self.readable()?;
        P::deserialize(&self.payload).map_err(|e| PayloadError::Shape(self.event_type, e))
    }

    /// Whether this build reads the event's schema version: not one written by a newer build.
    pub fn readable(&self) -> Result<(), PayloadError> {
        let known = self.event_type.schema_version();
        if self.schema_version > known {
            return Err(PayloadError::NewerVersion {
                event_type: self.event_type,
                found: self.schema_version,
                known,
            });
        }
        Ok(())
    }

    /// The event as its queue message body.
    pub fn to_json(&self) -> String {
        // Every field serializes infallibly: ids, strings, a JSON value and an RFC 3339 time.
        #[allow(clippy::expect_used)]
        serde_json::to_string(self).expect("an event serializes to JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Event {
        let at = DateTime::from_timestamp(1_764_111_250, 0).unwrap();
        Event::new(
            Uuid::nil(),
            EventType::UserRegistered,
            "u-1",
            json!({"user_id": "u-1"}),
            at,
        )
    }

    #[test]
    fn an_event_of_a_newer_schema_version_is_not_read_as_the_current_one() {
        let newer = Event {
            schema_version: EventType::UserRegistered.schema_version() + 1,
            ..sample()
        };
        assert!(matches!(
            newer.payload::<Registered>(),
            Err(PayloadError::NewerVersion { .. })
        ));
        assert!(sample().readable().is_ok());
    }

    #[test]
    fn event_types_are_named_by_their_dotted_names() {
        for &t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).ok(), Some(json!(t.as_str())));
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(t.to_string(), t.as_str());
        }
        assert!("user.exploded".parse::<EventType>().is_err());
    }

    #[test]
    fn an_event_survives_its_json_form() {
        let event = sample();
        let json: Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(json["type"], "user.registered");
        assert_eq!(json["occurred_at"], "2025-11-25T22:54:10Z");
        assert_eq!(json["schema_version"], 1);
        assert_eq!(serde_json::from_value::<Event>(json).ok(), Some(event));
    }

    #[test]
    fn an_unknown_type_does_not_parse() {
        let mut json = serde_json::to_value(sample()).unwrap();
        json["type"] = json!("user.exploded");
        assert!(serde_json::from_value::<Event>(json).is_err());
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Registered {
        user_id: String,
    }

    impl EventPayload for Registered {
        const TYPE: EventType = EventType::UserRegistered;
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Deleted {
        user_id: String,
    }

    impl EventPayload for Deleted {
        const TYPE: EventType = EventType::UserDeleted;
    }

    #[test]
    fn a_payload_reads_as_the_type_it_was_written_as() {
        let written = Registered {
            user_id: "u-1".into(),
        };
        let event = Event::of(Uuid::nil(), "u-1", &written, Utc::now());
        assert_eq!(event.event_type, EventType::UserRegistered);
        assert_eq!(event.payload::<Registered>().unwrap(), written);
        assert_eq!(sample().payload::<Registered>().unwrap(), written);
    }

    #[test]
    fn a_payload_does_not_read_as_another_types() {
        assert!(matches!(
            sample().payload::<Deleted>(),
            Err(PayloadError::OtherType {
                wanted: EventType::UserDeleted,
                found: EventType::UserRegistered
            })
        ));
        let mut odd = sample();
        odd.payload = json!({"user": 1});
        assert!(matches!(
            odd.payload::<Registered>(),
            Err(PayloadError::Shape(EventType::UserRegistered, _))
        ));
    }
}
