//! What a function is: its name, its trigger, and how its handler is built from the ports.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::middleware::from_fn_with_state;
use infra::compose::{Backend, Services, WithStore};
use shared::idempotency::{Idempotency, Marking};

use crate::auth::guard::{self, Authenticator, Policy, Route};
use crate::http::{Handler, idempotency};
use crate::telemetry;
use crate::trigger::{ScheduleHandler, SqsHandler, StreamHandler};
use crate::wiring::lambda;

/// One Lambda function of the system, and one route or event source of the local system.
///
/// Built only by the constructors below, so a trigger always comes with a handler of its shape:
/// a protected route's handler is built with the [`Authenticator`] its guard checks callers with.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// The name the template gives as the function's `Handler`, which its package's binary
    /// runs it by.
    pub name: &'static str,
    kind: Kind,
    /// Whether the route honours `Idempotency-Key` ([`crate::http::idempotency`]).
    idempotent: bool,
    /// How Lambda runs a function of this kind: the runtime of its trigger, over a backend
    /// with the services of the function's package.
    serve: fn(&'static Function, Services) -> Result<(), lambda::Error>,
}

/// A route's backend, with what honours idempotency keys when it does.
enum Keyed<'a> {
    Plain(&'a dyn Backend),
    Keys(WithStore<'a>, Idempotency),
}

impl Keyed<'_> {
    fn backend(&self) -> &dyn Backend {
        match self {
            Keyed::Plain(backend) => *backend,
            Keyed::Keys(marking, _) => marking,
        }
    }

    fn wrap(self, handler: Handler) -> Handler {
        match self {
            Keyed::Plain(_) => handler,
            Keyed::Keys(_, keys) => idempotency::keyed(handler, keys),
        }
    }
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

/// How a handler of type `R` is built from the ports of a backend (AWS on Lambda; any backend
/// for the local system and the tests). The declaration macros of [`crate::wiring`] write one
/// from a closure.
pub type Build<R> = fn(&dyn Backend) -> anyhow::Result<R>;

/// [`Build`] for a protected route's handler, which also gets the guard's authenticator.
pub type BuildGuarded = fn(&dyn Backend, Authenticator) -> anyhow::Result<Handler>;

#[derive(Clone, Copy)]
enum Kind {
    /// A public route whose handler takes no port: on Lambda it is built without a backend.
    Standalone {
        method: &'static str,
        path: &'static str,
        handler: fn() -> Handler,
    },
    Public {
        method: &'static str,
        path: &'static str,
        build: Build<Handler>,
    },
    Protected {
        method: &'static str,
        path: &'static str,
        policy: Policy,
        build: BuildGuarded,
    },
    Queue {
        queue: &'static str,
        build: Build<Arc<dyn SqsHandler>>,
    },
    Stream {
        build: Build<Arc<dyn StreamHandler>>,
    },
    Schedule {
        expression: &'static str,
        build: Build<Arc<dyn ScheduleHandler>>,
    },
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Standalone { .. } | Kind::Public { .. } => "public route",
            Kind::Protected { .. } => "protected route",
            Kind::Queue { .. } => "queue consumer",
            Kind::Stream { .. } => "stream consumer",
            Kind::Schedule { .. } => "scheduled function",
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
    /// A route anyone may call, whose handler takes no port (`GET /health`).
    pub const fn standalone(
        name: &'static str,
        method: &'static str,
        path: &'static str,
        handler: fn() -> Handler,
    ) -> Self {
        let kind = Kind::Standalone {
            method,
            path,
            handler,
        };
        Self::of(name, kind, lambda::standalone)
    }

    /// A route anyone may call.
    pub const fn public(
        name: &'static str,
        method: &'static str,
        path: &'static str,
        build: Build<Handler>,
    ) -> Self {
        let kind = Kind::Public {
            method,
            path,
            build,
        };
        Self::of(name, kind, lambda::public)
    }

    /// A route behind the guard: only callers `policy` lets through reach the handler.
    pub const fn protected(
        name: &'static str,
        method: &'static str,
        path: &'static str,
        policy: Policy,
        build: BuildGuarded,
    ) -> Self {
        let kind = Kind::Protected {
            method,
            path,
            policy,
            build,
        };
        Self::of(name, kind, lambda::protected)
    }

    /// A consumer of the queue named `queue`.
    pub const fn queue(
        name: &'static str,
        queue: &'static str,
        build: Build<Arc<dyn SqsHandler>>,
    ) -> Self {
        Self::of(name, Kind::Queue { queue, build }, lambda::queue)
    }

    /// A consumer of the table's change stream.
    pub const fn stream(name: &'static str, build: Build<Arc<dyn StreamHandler>>) -> Self {
        Self::of(name, Kind::Stream { build }, lambda::stream)
    }

    /// A function run on the schedule `expression`.
    pub const fn schedule(
        name: &'static str,
        expression: &'static str,
        build: Build<Arc<dyn ScheduleHandler>>,
    ) -> Self {
        let kind = Kind::Schedule { expression, build };
        Self::of(name, kind, lambda::schedule)
    }

    const fn of(
        name: &'static str,
        kind: Kind,
        serve: fn(&'static Function, Services) -> Result<(), lambda::Error>,
    ) -> Self {
        Self {
            name,
            kind,
            idempotent: false,
            serve,
        }
    }

    /// This route, honouring `Idempotency-Key`: a retry with the key of an earlier request
    /// gets that request's answer instead of a second effect.
    pub const fn idempotent(self) -> Self {
        Self {
            idempotent: true,
            ..self
        }
    }

    pub const fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// The backend the handler is built over, and what the route is wrapped in: for an
    /// idempotent route, a store that records each effect with its key in the use case's
    /// transaction, and the layer that claims and replays keys.
    fn keyed<'a>(&self, backend: &'a dyn Backend) -> anyhow::Result<Keyed<'a>> {
        if !self.idempotent {
            return Ok(Keyed::Plain(backend));
        }
        let store = backend.store()?;
        let keys = Idempotency::new(store.clone(), backend.clock(), backend.random());
        let marking = WithStore::new(backend, Arc::new(Marking::new(store)));
        Ok(Keyed::Keys(marking, keys))
    }

    pub const fn trigger(&self) -> Trigger {
        match self.kind {
            Kind::Standalone { method, path, .. } | Kind::Public { method, path, .. } => {
                Trigger::Http(Route::public(method, path))
            }
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
        match self.kind {
            Kind::Standalone { .. } | Kind::Public { .. } | Kind::Protected { .. } => {
                self.http_route(backend, authenticator).map(Built::Http)
            }
            Kind::Queue { .. } => self.queue_handler(backend).map(Built::Queue),
            Kind::Stream { .. } => self.stream_handler(backend).map(Built::Stream),
            Kind::Schedule { .. } => self.schedule_handler(backend).map(Built::Schedule),
        }
    }

    /// The route of an HTTP function, guarded as declared; an error for any other function.
    pub fn http_route(
        &self,
        backend: &dyn Backend,
        authenticator: impl FnOnce() -> anyhow::Result<Authenticator>,
    ) -> anyhow::Result<Router> {
        let route = match self.kind {
            Kind::Protected { .. } => self.protected_route(backend, authenticator()?),
            Kind::Standalone { .. } => self.standalone_route(),
            _ => self.public_route(backend),
        }?;
        Ok(self.observed(route))
    }

    /// `route`, with its requests' span naming this function and its metrics recorded.
    pub(crate) fn observed(&self, route: Router) -> Router {
        let endpoint = self
            .route()
            .map_or_else(String::new, |r| format!("{} {}", r.method, r.path));
        let served = telemetry::Served {
            function: self.name,
            endpoint: endpoint.into(),
        };
        route.route_layer(from_fn_with_state(served, telemetry::observe))
    }

    /// The route of a function whose handler takes no port; an error for any other function.
    pub(crate) fn standalone_route(&self) -> anyhow::Result<Router> {
        let Kind::Standalone {
            method,
            path,
            handler,
        } = &self.kind
        else {
            return Err(self.not_a("route without ports"));
        };
        guard::public(method, path, handler()).with_context(|| self.building())
    }

    /// A public route; an error for any other function. (Kept apart from the protected one so
    /// a public function builds no guard and reads no store for one.)
    pub(crate) fn public_route(&self, backend: &dyn Backend) -> anyhow::Result<Router> {
        let Kind::Public {
            method,
            path,
            build,
        } = &self.kind
        else {
            return Err(self.not_a("public route"));
        };
        let keyed = self.keyed(backend).with_context(|| self.building())?;
        build(keyed.backend())
            .map(|handler| keyed.wrap(handler))
            .and_then(|handler| guard::public(method, path, handler))
            .with_context(|| self.building())
    }

    /// A protected route behind `authenticator`; an error for any other function.
    pub(crate) fn protected_route(
        &self,
        backend: &dyn Backend,
        authenticator: Authenticator,
    ) -> anyhow::Result<Router> {
        let Kind::Protected {
            method,
            path,
            policy,
            build,
        } = &self.kind
        else {
            return Err(self.not_a("protected route"));
        };
        let keyed = self.keyed(backend).with_context(|| self.building())?;
        build(keyed.backend(), authenticator.clone())
            .map(|handler| keyed.wrap(handler))
            .and_then(|handler| guard::protected(method, path, *policy, handler, authenticator))
            .with_context(|| self.building())
    }

    /// The handler of a queue consumer; an error for any other function.
    pub fn queue_handler(&self, backend: &dyn Backend) -> anyhow::Result<Arc<dyn SqsHandler>> {
        match &self.kind {
            Kind::Queue { build, .. } => build(backend).with_context(|| self.building()),
            _ => Err(self.not_a("queue consumer")),
        }
    }

    /// The handler of a stream consumer; an error for any other function.
    pub fn stream_handler(&self, backend: &dyn Backend) -> anyhow::Result<Arc<dyn StreamHandler>> {
        match &self.kind {
            Kind::Stream { build } => build(backend).with_context(|| self.building()),
            _ => Err(self.not_a("stream consumer")),
        }
    }

    /// The handler of a scheduled function; an error for any other function.
    pub fn schedule_handler(
        &self,
        backend: &dyn Backend,
    ) -> anyhow::Result<Arc<dyn ScheduleHandler>> {
        match &self.kind {
            Kind::Schedule { build, .. } => build(backend).with_context(|| self.building()),
            _ => Err(self.not_a("scheduled function")),
        }
    }

    /// Runs the function on Lambda over a backend with `services`: what its main does.
    pub fn run_on_lambda(&'static self, services: Services) -> Result<(), lambda::Error> {
        (self.serve)(self, services)
    }

    fn building(&self) -> String {
        format!("building the handler of {}", self.name)
    }

    fn not_a(&self, wanted: &str) -> anyhow::Error {
        anyhow::anyhow!("{} is not a {wanted}: it is a {:?}", self.name, self.kind)
    }
}
