//! How a Lambda function runs: its entry of the table, built once at init over the AWS backend,
//! then the runtime's loop. A main is one line: `functions::lambda!(LOGIN);`.

use axum::Router;
use infra::compose::{AwsBackend, Backend};

use crate::trigger::{run_schedule, run_sqs, run_stream};
use crate::wiring::{Function, authenticator};

pub type Error = lambda_runtime::Error;

/// Runs `function` as this process's Lambda function.
pub fn run(function: &'static Function) -> Result<(), Error> {
    function.run_on_lambda()
}

/// A route that takes no port under lambda_http: no backend is built.
pub(super) fn standalone(function: &'static Function) -> Result<(), Error> {
    block_on(async move {
        crate::telemetry::init();
        lambda_http::run(http_app(function, function.standalone_route()?)).await
    })
}

/// A public route under lambda_http.
pub(super) fn public(function: &'static Function) -> Result<(), Error> {
    block_on(async move {
        let backend = init().await?;
        let route = function.public_route_on(&backend)?;
        lambda_http::run(http_app(function, route)).await
    })
}

/// A protected route under lambda_http, behind its own authenticator.
pub(super) fn protected(function: &'static Function) -> Result<(), Error> {
    block_on(async move {
        let backend = init().await?;
        let route = function.protected_route_on(&backend, authenticator(&backend)?)?;
        lambda_http::run(http_app(function, route)).await
    })
}

/// A queue consumer under the Lambda runtime.
pub(super) fn queue(function: &'static Function) -> Result<(), Error> {
    block_on(async move {
        let backend = init().await?;
        run_sqs(function.queue_handler_on(&backend)?).await
    })
}

/// A stream consumer under the Lambda runtime.
pub(super) fn stream(function: &'static Function) -> Result<(), Error> {
    block_on(async move {
        let backend = init().await?;
        run_stream(function.stream_handler_on(&backend)?).await
    })
}

/// A scheduled function under the Lambda runtime.
pub(super) fn schedule(function: &'static Function) -> Result<(), Error> {
    block_on(async move {
        let backend = init().await?;
        run_schedule(function.schedule_handler_on(&backend)?).await
    })
}

fn block_on(serve: impl Future<Output = Result<(), Error>>) -> Result<(), Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve)
}

/// What every function does first: logs, and the backend its handler is built over.
async fn init() -> Result<AwsBackend, Error> {
    crate::telemetry::init();
    Ok(AwsBackend::from_env().await?)
}

/// What an HTTP function serves under lambda_http: its one route, guarded as declared, with
/// the API's middleware.
pub fn http_app(function: &Function, route: Router) -> Router {
    let declared: Vec<_> = function.route().into_iter().collect();
    crate::http::app(route, &declared)
}

/// An HTTP function's [`http_app`], built over `backend` as its Lambda main builds it.
pub fn build_http_app(function: &Function, backend: &dyn Backend) -> anyhow::Result<Router> {
    let route = function.http_route(backend, || authenticator(backend))?;
    Ok(http_app(function, route))
}

/// The main of the Lambda function the table declares as `$function`.
///
/// A main has nothing to unit-test; under `cargo test` it is left out, so the test harness of
/// each function's binary links none of the function (the one-line mains need no `[[bin]]`
/// entries to opt out of testing).
#[macro_export]
macro_rules! lambda {
    ($function:ident) => {
        #[cfg(not(test))]
        fn main() -> ::std::result::Result<(), $crate::wiring::lambda::Error> {
            $crate::wiring::lambda::run(&$crate::wiring::$function)
        }
    };
}
