//! How a Lambda function runs: its entry of the table, built once at init over the AWS backend,
//! then the runtime's loop. A main is one line: `functions::lambda!(LOGIN);`.

use axum::Router;
use infra::compose::{AwsBackend, Backend};

use crate::trigger::{run_schedule, run_sqs, run_stream};
use crate::wiring::{Built, Function, authenticator};

pub type Error = lambda_runtime::Error;

/// Runs `function` as this process's Lambda function.
pub fn run(function: &'static Function) -> Result<(), Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(function))
}

async fn serve(function: &'static Function) -> Result<(), Error> {
    crate::telemetry::init();
    let backend = AwsBackend::from_env().await?;
    match function.build(&backend, || authenticator(&backend))? {
        Built::Http(router) => lambda_http::run(http_app(function, router)).await,
        Built::Queue(handler) => run_sqs(handler).await,
        Built::Stream(handler) => run_stream(handler).await,
        Built::Schedule(handler) => run_schedule(handler).await,
    }
}

/// What an HTTP function serves under lambda_http: its one route, guarded as declared, with
/// the API's middleware.
pub fn http_app(function: &Function, route: Router) -> Router {
    let declared: Vec<_> = function.route().into_iter().collect();
    crate::http::app(route, &declared)
}

/// An HTTP function's [`http_app`], built over `backend` as its Lambda main builds it.
pub fn build_http_app(function: &Function, backend: &dyn Backend) -> anyhow::Result<Router> {
    match function.build(backend, || authenticator(backend))? {
        Built::Http(route) => Ok(http_app(function, route)),
        other => anyhow::bail!("{} is not an HTTP function: {other:?}", function.name),
    }
}

/// The main of the Lambda function the table declares as `$function`.
#[macro_export]
macro_rules! lambda {
    ($function:ident) => {
        fn main() -> ::std::result::Result<(), $crate::wiring::lambda::Error> {
            $crate::wiring::lambda::run(&$crate::wiring::$function)
        }
    };
}
