//! How a Lambda function runs: its entry of the table, built once at init over the AWS backend,
//! then the runtime's loop. Every function runs the binary of its [`Package`]; the function's
//! `Handler` (Lambda's `_HANDLER`) names its entry of the package.

use anyhow::Context;
use axum::Router;
use infra::compose::{AwsBackend, Backend, Services};

use crate::trigger::{run_schedule, run_sqs, run_stream};
use crate::wiring::packages::Package;
use crate::wiring::{Function, authenticator};

pub type Error = lambda_runtime::Error;

/// The variable Lambda sets to a function's configured `Handler`.
pub const HANDLER_VARIABLE: &str = "_HANDLER";

/// Names the function where the handler cannot be chosen: cargo-lambda's `deploy` and `watch`
/// give every function the handler `bootstrap` (and Lambda reserves `_HANDLER`).
pub const OVERRIDE_VARIABLE: &str = "HANDLER";

/// The main of a package's binary: runs the function of `package` that `HANDLER`, or else
/// `_HANDLER`, names.
pub fn main(package: &'static Package) -> Result<(), Error> {
    let name = std::env::var(OVERRIDE_VARIABLE)
        .or_else(|_| std::env::var(HANDLER_VARIABLE))
        .with_context(|| {
            format!(
                "neither {OVERRIDE_VARIABLE} nor {HANDLER_VARIABLE} is set: name the function \
                 to run (its Handler in template.yaml)"
            )
        })?;
    find(package, &name)?.run_on_lambda(package.services)
}

/// The function of `package` called `name`; an unknown name is refused with the package's
/// functions. (Only the package's own: naming the others would link their handlers.)
pub fn find(package: &'static Package, name: &str) -> anyhow::Result<&'static Function> {
    let functions = package.functions;
    functions
        .iter()
        .find(|function| function.name == name)
        .with_context(|| {
            let known: Vec<_> = functions.iter().map(|function| function.name).collect();
            format!(
                "the `{}` binary runs no function called {name:?}; it runs {}",
                package.binary,
                known.join(", ")
            )
        })
}

/// A route that takes no port under lambda_http: no backend is built.
pub(super) fn standalone(function: &'static Function, _: Services) -> Result<(), Error> {
    block_on(async move {
        crate::telemetry::init();
        crate::telemetry::metrics::install();
        let route = function.observed(function.standalone_route()?);
        lambda_http::run(flushing(http_app(function, route))).await
    })
}

/// A public route under lambda_http.
pub(super) fn public(function: &'static Function, services: Services) -> Result<(), Error> {
    block_on(async move {
        let backend = init(services).await?;
        let route = function.observed(function.public_route(&backend)?);
        lambda_http::run(flushing(http_app(function, route))).await
    })
}

/// A protected route under lambda_http, behind its own authenticator.
pub(super) fn protected(function: &'static Function, services: Services) -> Result<(), Error> {
    block_on(async move {
        let backend = init(services).await?;
        let route = function.protected_route(&backend, authenticator(&backend)?)?;
        lambda_http::run(flushing(http_app(function, function.observed(route)))).await
    })
}

/// A queue consumer under the Lambda runtime.
pub(super) fn queue(function: &'static Function, services: Services) -> Result<(), Error> {
    block_on(async move {
        let backend = init(services).await?;
        run_sqs(function.queue_handler(&backend)?).await
    })
}

/// A stream consumer under the Lambda runtime.
pub(super) fn stream(function: &'static Function, services: Services) -> Result<(), Error> {
    block_on(async move {
        let backend = init(services).await?;
        run_stream(function.stream_handler(&backend)?).await
    })
}

/// A scheduled function under the Lambda runtime.
pub(super) fn schedule(function: &'static Function, services: Services) -> Result<(), Error> {
    block_on(async move {
        let backend = init(services).await?;
        run_schedule(function.schedule_handler(&backend)?).await
    })
}

/// Runs the function on a runtime of one thread: Lambda hands a function one event at a time,
/// so worker threads would only wait (and take their init time and their scheduler's code);
/// hashing, image work and the local-store calls that block go to the blocking pool as before.
fn block_on(serve: impl Future<Output = Result<(), Error>>) -> Result<(), Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve)
}

/// What every function does first: logs, metrics, and the backend its handler is built over.
async fn init(services: Services) -> Result<AwsBackend, Error> {
    crate::telemetry::init();
    crate::telemetry::metrics::install();
    Ok(AwsBackend::from_env(services).await?)
}

/// What an HTTP function serves under lambda_http: its one route, guarded as declared, with
/// the API's middleware.
pub fn http_app(function: &Function, route: Router) -> Router {
    let declared: Vec<_> = function.route().into_iter().collect();
    crate::http::app(route, &declared)
}

/// `app`, writing the metrics each request recorded to the log once it is answered.
fn flushing(app: Router) -> Router {
    app.layer(axum::middleware::map_response(
        |response: axum::response::Response| async {
            crate::telemetry::metrics::flush();
            response
        },
    ))
}

/// An HTTP function's [`http_app`], built over `backend` as its Lambda main builds it.
pub fn build_http_app(function: &Function, backend: &dyn Backend) -> anyhow::Result<Router> {
    let route = function.http_route(backend, || authenticator(backend))?;
    Ok(http_app(function, route))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handler_name_finds_its_function_and_an_unknown_one_lists_them() {
        use crate::wiring::packages::{EVENTS, IDENTITY};
        assert_eq!(find(&IDENTITY, "login").unwrap().name, "login");
        let error = find(&IDENTITY, "logn").unwrap_err().to_string();
        assert!(error.contains("\"logn\""), "{error}");
        assert!(error.contains("login, refresh"), "{error}");
        let error = find(&EVENTS, "login").unwrap_err().to_string();
        assert!(error.contains("`events` binary"), "{error}");
    }
}
