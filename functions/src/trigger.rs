//! The shapes of event-triggered handlers, and how Lambda runs one.
//!
//! A handler takes the real `aws_lambda_events` type of its trigger and returns the typed
//! response Lambda expects. Lambda calls it through [`run_sqs`], [`run_stream`] or
//! [`run_schedule`]; the local event runtime (the `local` crate) builds the same event types
//! from its embedded queue, change feed and scheduler and calls the same handler.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::dynamodb;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::streams::DynamoDbEventResponse;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

/// Consumes a batch of queue messages. Messages listed in the response's
/// `batch_item_failures` are retried; an `Err` retries the whole batch.
#[async_trait]
pub trait SqsHandler: Send + Sync + fmt::Debug {
    async fn handle(&self, event: SqsEvent) -> anyhow::Result<SqsBatchResponse>;
}

/// Consumes a batch of item store changes, in order. Processing resumes from the first record
/// listed in `batch_item_failures`; an `Err` retries the whole batch.
#[async_trait]
pub trait StreamHandler: Send + Sync + fmt::Debug {
    async fn handle(&self, event: dynamodb::Event) -> anyhow::Result<DynamoDbEventResponse>;
}

/// Runs on a schedule; returns a small report for the log and the invocation result.
#[async_trait]
pub trait ScheduleHandler: Send + Sync + fmt::Debug {
    async fn handle(&self, event: EventBridgeEvent<Value>) -> anyhow::Result<Value>;
}

/// A handler made of an async function, as `lambda_runtime::service_fn` makes a service; it is
/// an [`SqsHandler`], a [`StreamHandler`] or a [`ScheduleHandler`] depending on what the function
/// takes.
pub fn handler_fn<F>(f: F) -> HandlerFn<F> {
    HandlerFn(f)
}

pub struct HandlerFn<F>(F);

impl<F> fmt::Debug for HandlerFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandlerFn")
    }
}

#[async_trait]
impl<F, Fut> SqsHandler for HandlerFn<F>
where
    F: Fn(SqsEvent) -> Fut + Send + Sync,
    Fut: Future<Output = anyhow::Result<SqsBatchResponse>> + Send,
{
    async fn handle(&self, event: SqsEvent) -> anyhow::Result<SqsBatchResponse> {
        (self.0)(event).await
    }
}

#[async_trait]
impl<F, Fut> StreamHandler for HandlerFn<F>
where
    F: Fn(dynamodb::Event) -> Fut + Send + Sync,
    Fut: Future<Output = anyhow::Result<DynamoDbEventResponse>> + Send,
{
    async fn handle(&self, event: dynamodb::Event) -> anyhow::Result<DynamoDbEventResponse> {
        (self.0)(event).await
    }
}

#[async_trait]
impl<F, Fut> ScheduleHandler for HandlerFn<F>
where
    F: Fn(EventBridgeEvent<Value>) -> Fut + Send + Sync,
    Fut: Future<Output = anyhow::Result<Value>> + Send,
{
    async fn handle(&self, event: EventBridgeEvent<Value>) -> anyhow::Result<Value> {
        (self.0)(event).await
    }
}

/// Runs an SQS handler as this Lambda function.
pub async fn run_sqs(handler: Arc<dyn SqsHandler>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move { flushed(handler.handle(event.payload).await).map_err(diagnostic) }
    }))
    .await
}

/// Runs a DynamoDB stream handler as this Lambda function.
pub async fn run_stream(handler: Arc<dyn StreamHandler>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<dynamodb::Event>| {
        let handler = handler.clone();
        async move { flushed(handler.handle(event.payload).await).map_err(diagnostic) }
    }))
    .await
}

/// Runs a scheduled handler as this Lambda function.
pub async fn run_schedule(handler: Arc<dyn ScheduleHandler>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<Value>>| {
            let handler = handler.clone();
            async move { flushed(handler.handle(event.payload).await).map_err(diagnostic) }
        },
    ))
    .await
}

/// An invocation's result, once the metrics it recorded are in the log.
fn flushed<T>(result: T) -> T {
    crate::telemetry::metrics::flush();
    result
}

/// A failed invocation, logged with its whole cause chain. Lambda reports only the outermost
/// message, so internals stay in the log.
fn diagnostic(error: anyhow::Error) -> Diagnostic {
    tracing::error!(error = %format_args!("{error:#}"), "invocation failed");
    Diagnostic {
        error_type: "HandlerError".to_owned(),
        error_message: error.to_string(),
    }
}
