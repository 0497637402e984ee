//! The names the local server answers to. It listens on loopback, but a web page can still
//! reach it through a name of its own that resolves to 127.0.0.1 (DNS rebinding), and would
//! then read the mailbox and call the API as a same-origin page. The browser sends that name
//! as `Host`, so a request naming any host but the server's own is refused.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use functions::http::ApiError;
use http::header::HOST;

/// The `Host` values (authorities, lower case) the server answers to.
#[derive(Debug, Clone)]
pub struct Hosts(Arc<[String]>);

impl Hosts {
    /// `127.0.0.1`, `localhost` and `[::1]` at the bound port (bare on port 80), and the
    /// authority of the public address, when one is set (`APP_URL`, e.g. a tunnel).
    pub fn of(addr: SocketAddr, app_url: Option<&str>) -> Self {
        let port = addr.port();
        let mut hosts = Vec::new();
        for name in ["127.0.0.1", "localhost", "[::1]"] {
            hosts.push(format!("{name}:{port}"));
            if port == 80 {
                hosts.push(name.to_owned());
            }
        }
        if let Some(authority) = app_url
            .and_then(|url| url.parse::<http::Uri>().ok())
            .and_then(|uri| uri.authority().map(|a| a.as_str().to_ascii_lowercase()))
        {
            hosts.push(authority);
        }
        Self(hosts.into())
    }

    fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.0.contains(&host)
    }
}

/// Refuses a request whose `Host` is not one of the server's own names.
pub async fn only_own(State(hosts): State<Hosts>, request: Request, next: Next) -> Response {
    let named = request
        .headers()
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if named.is_some_and(|host| hosts.allows(host)) {
        return next.run(request).await;
    }
    tracing::warn!(host = ?named, "refused a request for another host");
    ApiError::BadRequest {
        code: "unknown_host",
        detail: format!("this server answers to {} only", hosts.0.join(", ")),
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_answers_to_its_own_names_only() {
        let hosts = Hosts::of(
            "127.0.0.1:3000".parse().unwrap(),
            Some("https://Dev.Example.net/"),
        );
        for own in [
            "127.0.0.1:3000",
            "LOCALHOST:3000",
            "[::1]:3000",
            "dev.example.net",
        ] {
            assert!(hosts.allows(own), "{own}");
        }
        for other in [
            "evil.example:3000",
            "localhost",
            "127.0.0.1:3001",
            "localhost.evil.example:3000",
            "",
        ] {
            assert!(!hosts.allows(other), "{other}");
        }
    }
}
