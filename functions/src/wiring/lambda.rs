//! How a Lambda function runs: its entry of the table, built once at init over the AWS backend,
//! then the runtime's loop. Every function runs the one `bootstrap` binary; the function's
//! `Handler` (Lambda's `_HANDLER`) names its entry of [`FUNCTIONS`].

use anyhow::Context;
use axum::Router;
use infra::compose::{AwsBackend, Backend};

use crate::trigger::{run_schedule, run_sqs, run_stream};
use crate::wiring::{FUNCTIONS, Function, authenticator};

pub type Error = lambda_runtime::Error;

/// The variable Lambda sets to a function's configured `Handler`.
pub const HANDLER_VARIABLE: &str = "_HANDLER";

/// Names the function where the handler cannot be chosen: cargo-lambda's `deploy` and `watch`
/// give every function the handler `bootstrap` (and Lambda reserves `_HANDLER`).
pub const OVERRIDE_VARIABLE: &str = "HANDLER";

/// The main of every function: runs the entry of the table `HANDLER`, or else `_HANDLER`,
/// names.
pub fn main() -> Result<(), Error> {
    let name = std::env::var(OVERRIDE_VARIABLE)
        .or_else(|_| std::env::var(HANDLER_VARIABLE))
        .with_context(|| {
            format!(
                "neither {OVERRIDE_VARIABLE} nor {HANDLER_VARIABLE} is set: name the function \
                 to run (its Handler in template.yaml)"
            )
        })?;
    run(find(&name)?)
}

/// Runs `function` as this process's Lambda function.
pub fn run(function: &'static Function) -> Result<(), Error> {
    function.run_on_lambda()
}

/// The function of the table called `name`; an unknown name is refused with the known ones.
pub fn find(name: &str) -> anyhow::Result<&'static Function> {
    FUNCTIONS
        .iter()
        .find(|function| function.name == name)
        .with_context(|| {
            let known: Vec<_> = FUNCTIONS.iter().map(|function| function.name).collect();
            format!(
                "no function is called {name:?}; the functions are {}",
                known.join(", ")
            )
        })
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
        let route = function.public_route(&backend)?;
        lambda_http::run(http_app(function, route)).await
    })
}

/// A protected route under lambda_http, behind its own authenticator.
pub(super) fn protected(function: &'static Function) -> Result<(), Error> {
    block_on(async move {
        let backend = init().await?;
        let route = function.protected_route(&backend, authenticator(&backend)?)?;
        lambda_http::run(http_app(function, route)).await
    })
}

/// A queue consumer under the Lambda runtime.
pub(super) fn queue(function: &'static Function) -> Result<(), Error> {
    block_on(async move {
        let backend = init().await?;
        run_sqs(function.queue_handler(&backend)?).await
    })
}

/// A stream consumer under the Lambda runtime.
pub(super) fn stream(function: &'static Function) -> Result<(), Error> {
    block_on(async move {
        let backend = init().await?;
        run_stream(function.stream_handler(&backend)?).await
    })
}

/// A scheduled function under the Lambda runtime.
pub(super) fn schedule(function: &'static Function) -> Result<(), Error> {
    block_on(async move {
        let backend = init().await?;
        run_schedule(function.schedule_handler(&backend)?).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handler_name_finds_its_function_and_an_unknown_one_lists_them() {
        assert_eq!(find("login").unwrap().name, "login");
        let error = find("logn").unwrap_err().to_string();
        assert!(error.contains("\"logn\""), "{error}");
        assert!(error.contains("login, refresh"), "{error}");
    }
}
