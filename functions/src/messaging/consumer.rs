//! The `consumer` function: hands each event from the events queue to the reactions registered
//! for its type, each reaction's writes committed with its inbox claim.
//!
//! A duplicate delivery fails the claim, changes nothing, and is acknowledged. A message that
//! is not an event is reported failed, so after the queue's maximum receives it rests in the
//! dead-letter queue for someone to look at; a reaction that fails is reported failed too and
//! retried later, while the reactions that succeeded keep their claims and are not repeated.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use shared::clock::Clock;
use shared::messaging::event::Event;
use shared::messaging::inbox::{Applied, apply_once};
use shared::store::ItemStore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::messaging::reaction::Reactions;
use crate::trigger::SqsHandler;

#[derive(Debug, Clone)]
pub struct Consumer {
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    reactions: Reactions,
}

/// What consuming one event did, per reaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub applied: Vec<String>,
    pub duplicates: Vec<String>,
}

impl Consumer {
    pub fn new(store: Arc<dyn ItemStore>, clock: Arc<dyn Clock>, reactions: Reactions) -> Self {
        Self {
            store,
            clock,
            reactions,
        }
    }

    /// Runs every reaction to the event once. Each reaction that fails is retried with the
    /// event, the others are not repeated.
    pub async fn consume(&self, event: &Event) -> anyhow::Result<Consumed> {
        let mut consumed = Consumed {
            applied: Vec::new(),
            duplicates: Vec::new(),
        };
        let mut failed = Vec::new();
        for reaction in self.reactions.to(event.event_type) {
            let name = reaction.name();
            let outcome = match reaction.react(event).await {
                Ok(writes) => apply_once(
                    self.store.as_ref(),
                    event.id,
                    name,
                    self.clock.now(),
                    writes,
                )
                .await
                .map_err(anyhow::Error::from),
                Err(error) => Err(error),
            };
            match outcome {
                Ok(Applied::Applied) => consumed.applied.push(name.to_owned()),
                Ok(Applied::Duplicate) => consumed.duplicates.push(name.to_owned()),
                Err(error) => {
                    tracing::error!(event = %event.id, reaction = name, error = %format_args!("{error:#}"), "reaction failed");
                    failed.push(name.to_owned());
                }
            }
        }
        if failed.is_empty() {
            Ok(consumed)
        } else {
            Err(anyhow!("reactions {failed:?} to event {} failed", event.id))
        }
    }
}

#[async_trait]
impl SqsHandler for Consumer {
    /// Consumes the batch's events concurrently (the queue promises no order, and each
    /// reaction's claim makes it idempotent), and reports the messages to deliver again.
    async fn handle(&self, event: SqsEvent) -> anyhow::Result<SqsBatchResponse> {
        let mut tasks = JoinSet::new();
        for message in event.records {
            let Some(id) = message.message_id.clone() else {
                return Err(anyhow!(
                    "a message without an id cannot be acknowledged alone"
                ));
            };
            let consumer = self.clone();
            tasks.spawn(async move {
                let Some(event) = parse(&id, &message) else {
                    return (id, false);
                };
                // The reactions' log lines and the jobs they queue carry the event's trace.
                let trace = event.trace_id.clone();
                let span = tracing::info_span!("event", event_id = %event.id, r#type = %event.event_type, trace_id = tracing::field::Empty);
                crate::telemetry::record_trace(&span, trace.as_deref());
                let consumed = shared::trace::scope(trace, consumer.consume(&event))
                    .instrument(span.clone())
                    .await;
                let _entered = span.enter();
                match consumed {
                    Ok(consumed) => {
                        tracing::info!(applied = ?consumed.applied, duplicates = ?consumed.duplicates, "event consumed");
                        (id, true)
                    }
                    Err(_) => (id, false),
                }
            });
        }
        let mut response = SqsBatchResponse::default();
        while let Some(joined) = tasks.join_next().await {
            // A panicking reaction fails the batch: its message cannot be named, and the
            // events consumed already are duplicates when they come back.
            let (id, consumed) = joined.context("consuming an event panicked")?;
            if !consumed {
                response.add_failure(id);
            }
        }
        Ok(response)
    }
}

/// The event a message carries; `None` (logged) when it carries none. The log names the
/// message and where parsing failed, never the body's values, which may be personal data.
fn parse(id: &str, message: &SqsMessage) -> Option<Event> {
    let body = message.body.as_deref().unwrap_or_default();
    match serde_json::from_str::<Event>(body) {
        Ok(event) => match event.readable() {
            Ok(()) => Some(event),
            Err(error) => {
                tracing::error!(message = id, event = %event.id, %error, "an event this build cannot read; it will be retried, then dead-letter");
                None
            }
        },
        Err(error) => {
            let claimed_type = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| {
                    v.get("type")?
                        .as_str()
                        .filter(|t| t.len() <= 64)
                        .map(str::to_owned)
                });
            tracing::error!(
                message = id,
                category = ?error.classify(),
                line = error.line(),
                column = error.column(),
                r#type = claimed_type.as_deref().unwrap_or("?"),
                "a message that is not an event; it will dead-letter"
            );
            None
        }
    }
}
