//! The `health` function: `GET /health`. It uses no port, so it builds no backend.

use functions::http::app;
use functions::system::health;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init();
    lambda_http::run(app(health::router())).await
}
