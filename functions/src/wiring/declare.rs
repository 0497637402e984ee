//! The macros the table is written with: `public!`, `protected!`, `queue!`, `stream!` and
//! `schedule!` declare one function each (a route whose handler takes no port is a plain
//! `Function::standalone`). The body that builds the handler is written once, as
//! a closure over the backend `b` (and, for a protected route, the guard's authenticator), with
//! `?` available in it.

/// Declares a function: its name, its trigger, and the body that builds its handler from the
/// backend `b` (and, for a protected route, the guard's authenticator); `?` works in it.
macro_rules! public {
    ($name:literal, $method:literal, $path:literal, |$b:pat_param| $body:expr) => {
        $crate::wiring::Function::public(
            $name,
            $method,
            $path,
            build!($crate::http::Handler, |$b| $body),
        )
    };
}

macro_rules! protected {
    ($name:literal, $method:literal, $path:literal, $policy:expr, |$b:pat_param, $guard:pat_param| $body:expr) => {{
        fn build(
            $b: &dyn ::infra::compose::Backend,
            $guard: $crate::auth::guard::Authenticator,
        ) -> ::anyhow::Result<$crate::http::Handler> {
            Ok($body)
        }
        $crate::wiring::Function::protected($name, $method, $path, $policy, build as _)
    }};
}

macro_rules! queue {
    ($name:literal, $queue:expr, |$b:pat_param| $body:expr) => {
        $crate::wiring::Function::queue(
            $name,
            $queue,
            build!(::std::sync::Arc<dyn $crate::trigger::SqsHandler>, |$b| {
                ::std::sync::Arc::new($body)
            }),
        )
    };
}

macro_rules! stream {
    ($name:literal, |$b:pat_param| $body:expr) => {
        $crate::wiring::Function::stream(
            $name,
            build!(::std::sync::Arc<dyn $crate::trigger::StreamHandler>, |$b| {
                ::std::sync::Arc::new($body)
            }),
        )
    };
}

macro_rules! schedule {
    ($name:literal, $expression:literal, |$b:pat_param| $body:expr) => {
        $crate::wiring::Function::schedule(
            $name,
            $expression,
            build!(
                ::std::sync::Arc<dyn $crate::trigger::ScheduleHandler>,
                |$b| ::std::sync::Arc::new($body)
            ),
        )
    };
}

macro_rules! build {
    ($handler:ty, |$b:pat_param| $body:expr) => {{
        fn build($b: &dyn ::infra::compose::Backend) -> ::anyhow::Result<$handler> {
            Ok($body)
        }
        build as $crate::wiring::Build<$handler>
    }};
}
