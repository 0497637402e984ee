//! What a function is: its name, its trigger, and how its handler is built from the ports.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use infra::compose::Backend;

use crate::auth::guard::{self, Authenticator, Policy, Route};
use crate::http::Handler;
use crate::trigger::{ScheduleHandler, SqsHandler, StreamHandler};

/// One Lambda function of the system, and one route or event source of the local system.
///
/// Built only by the constructors below, so a trigger always comes with a handler of its shape:
/// a protected route's handler is built with the [`Authenticator`] its guard checks callers with.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// The binary (`src/bin/<name>.rs`) and the template's `BuildProperties.Binary`.
    pub name: &'static str,
    kind: Kind,
}

/// What invokes a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An HTTP API route.
    Http(Route),
    /// An EventBridge schedule, in its `rate(...)` or `cron(...)` syntax.
    Schedule { expression: &'static str },
    /// The table's change stream (DynamoDB Streams; the local store's change feed).
    Stream,
    /// An SQS queue: [`infra::compose::EVENTS_QUEUE`] or [`infra::compose::JOBS_QUEUE`]
    /// (`EventsQueue` and `JobsQueue` in the template).
    Queue { queue: &'static str },
}

type Ports<'a> = &'a dyn Backend;

#[derive(Clone, Copy)]
enum Kind {
    Public {
        method: &'static str,
        path: &'static str,
        build: fn(Ports<'_>) -> anyhow::Result<Handler>,
    },
    Protected {
        method: &'static str,
        path: &'static str,
        policy: Policy,
        build: fn(Ports<'_>, Authenticator) -> anyhow::Result<Handler>,
    },
    Queue {
        queue: &'static str,
        build: fn(Ports<'_>) -> anyhow::Result<Arc<dyn SqsHandler>>,
    },
    Stream {
        build: fn(Ports<'_>) -> anyhow::Result<Arc<dyn StreamHandler>>,
    },
    Schedule {
        expression: &'static str,
        build: fn(Ports<'_>) -> anyhow::Result<Arc<dyn ScheduleHandler>>,
    },
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Public { .. } => "Public",
            Kind::Protected { .. } => "Protected",
            Kind::Queue { .. } => "Queue",
            Kind::Stream { .. } => "Stream",
            Kind::Schedule { .. } => "Schedule",
        })
    }
}

/// A function's handler, built.
#[derive(Debug)]
pub enum Built {
    /// The function's route, guarded as its declaration says.
    Http(Router),
    Queue(Arc<dyn SqsHandler>),
    Stream(Arc<dyn StreamHandler>),
    Schedule(Arc<dyn ScheduleHandler>),
}

impl Function {
    /// A route anyone may call.
    pub const fn public(
        name: &'static str,
        method: &'static str,
        path: &'static str,
        build: fn(Ports<'_>) -> anyhow::Result<Handler>,
    ) -> Self {
        let kind = Kind::Public {
            method,
            path,
            build,
        };
        Self { name, kind }
    }

    /// A route behind the guard: only callers `policy` lets through reach the handler.
    pub const fn protected(
        name: &'static str,
        method: &'static str,
        path: &'static str,
        policy: Policy,
        build: fn(Ports<'_>, Authenticator) -> anyhow::Result<Handler>,
    ) -> Self {
        let kind = Kind::Protected {
            method,
            path,
            policy,
            build,
        };
        Self { name, kind }
    }

    /// A consumer of the queue named `queue`.
    pub const fn queue(
        name: &'static str,
        queue: &'static str,
        build: fn(Ports<'_>) -> anyhow::Result<Arc<dyn SqsHandler>>,
    ) -> Self {
        let kind = Kind::Queue { queue, build };
        Self { name, kind }
    }

    /// A consumer of the table's change stream.
    pub const fn stream(
        name: &'static str,
        build: fn(Ports<'_>) -> anyhow::Result<Arc<dyn StreamHandler>>,
    ) -> Self {
        let kind = Kind::Stream { build };
        Self { name, kind }
    }

    /// A function run on the schedule `expression`.
    pub const fn schedule(
        name: &'static str,
        expression: &'static str,
        build: fn(Ports<'_>) -> anyhow::Result<Arc<dyn ScheduleHandler>>,
    ) -> Self {
        let kind = Kind::Schedule { expression, build };
        Self { name, kind }
    }

    pub const fn trigger(&self) -> Trigger {
        match self.kind {
            Kind::Public { method, path, .. } => Trigger::Http(Route::public(method, path)),
            Kind::Protected {
                method,
                path,
                policy,
                ..
            } => Trigger::Http(Route::protected(method, path, policy)),
            Kind::Queue { queue, .. } => Trigger::Queue { queue },
            Kind::Stream { .. } => Trigger::Stream,
            Kind::Schedule { expression, .. } => Trigger::Schedule { expression },
        }
    }

    /// The route of an HTTP function.
    pub const fn route(&self) -> Option<Route> {
        match self.trigger() {
            Trigger::Http(route) => Some(route),
            Trigger::Schedule { .. } | Trigger::Stream | Trigger::Queue { .. } => None,
        }
    }

    /// Builds the handler over `backend`. A protected route's guard uses the authenticator
    /// `authenticator` gives, which is asked for only when the function has one: the local
    /// system shares one among all its routes, a Lambda function builds its own.
    pub fn build(
        &self,
        backend: &dyn Backend,
        authenticator: impl FnOnce() -> anyhow::Result<Authenticator>,
    ) -> anyhow::Result<Built> {
        let built = match self.kind {
            Kind::Public {
                method,
                path,
                build,
            } => build(backend).and_then(|handler| guard::public(method, path, handler).map(Built::Http)),
            Kind::Protected {
                method,
                path,
                policy,
                build,
            } => authenticator().and_then(|authenticator| {
                let handler = build(backend, authenticator.clone())?;
                guard::protected(method, path, policy, handler, authenticator).map(Built::Http)
            }),
            Kind::Queue { build, .. } => build(backend).map(Built::Queue),
            Kind::Stream { build } => build(backend).map(Built::Stream),
            Kind::Schedule { build, .. } => build(backend).map(Built::Schedule),
        };
        built.with_context(|| format!("building the handler of {}", self.name))
    }

    /// The handler of a queue consumer; an error for any other function.
    pub fn queue_handler(&self, backend: &dyn Backend) -> anyhow::Result<Arc<dyn SqsHandler>> {
        match self.build(backend, no_authenticator)? {
            Built::Queue(handler) => Ok(handler),
            other => Err(self.not_a("queue consumer", &other)),
        }
    }

    /// The handler of a stream consumer; an error for any other function.
    pub fn stream_handler(&self, backend: &dyn Backend) -> anyhow::Result<Arc<dyn StreamHandler>> {
        match self.build(backend, no_authenticator)? {
            Built::Stream(handler) => Ok(handler),
            other => Err(self.not_a("stream consumer", &other)),
        }
    }

    /// The handler of a scheduled function; an error for any other function.
    pub fn schedule_handler(
        &self,
        backend: &dyn Backend,
    ) -> anyhow::Result<Arc<dyn ScheduleHandler>> {
        match self.build(backend, no_authenticator)? {
            Built::Schedule(handler) => Ok(handler),
            other => Err(self.not_a("scheduled function", &other)),
        }
    }

    fn not_a(&self, wanted: &str, built: &Built) -> anyhow::Error {
        anyhow::anyhow!("{} is not a {wanted}: it built {built:?}", self.name)
    }
}

fn no_authenticator() -> anyhow::Result<Authenticator> {
    anyhow::bail!("only a protected route has an authenticator")
}
