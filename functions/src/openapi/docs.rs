//! `GET /openapi.json` and `GET /docs`: the committed document, and a page that lists its
//! operations. The page's script and styles are this crate's own, inlined, and its
//! `Content-Security-Policy` allows exactly them (by hash) and a request to its own origin.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, header};
use sha2::{Digest, Sha256};

use crate::http::Handler;
use crate::openapi::COMMITTED;

const SCRIPT: &str = include_str!("docs.js");
const STYLE: &str = include_str!("docs.css");

/// `GET /openapi.json`.
pub fn document_handler() -> Handler {
    crate::http::handler(document, ())
}

async fn document() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            // The document changes only with a deployment.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        COMMITTED,
    )
        .into_response()
}

/// The page and its policy, built once.
#[derive(Debug, Clone)]
struct Page {
    html: String,
    policy: HeaderValue,
}

/// `GET /docs`.
pub fn page_handler() -> Handler {
    crate::http::handler(page, page_and_policy())
}

fn page_and_policy() -> Page {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>API</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1 id=\"title\">API</h1>\n<p id=\"description\"></p>\n\
         <p>The machine-readable document: <a href=\"/openapi.json\">/openapi.json</a>.</p>\n\
         <main id=\"operations\"></main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    let policy = format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(SCRIPT),
        hash(STYLE)
    );
    Page {
        html,
        // Base64 and fixed text: always a valid header value.
        policy: HeaderValue::from_str(&policy)
            .unwrap_or(HeaderValue::from_static("default-src 'none'")),
    }
}

/// A CSP source matching exactly this inline text.
fn hash(text: &str) -> String {
    format!(
        "sha256-{}",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

async fn page(State(page): State<Page>) -> Response {
    let mut response = Html(page.html).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, page.policy);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_inlined_script_and_style_and_nothing_else() {
        let page = page_and_policy();
        let policy = page.policy.to_str().unwrap();
        assert!(policy.contains(&format!("script-src '{}'", hash(SCRIPT))));
        assert!(policy.contains(&format!("style-src '{}'", hash(STYLE))));
        assert!(!policy.contains("unsafe"), "{policy}");
        assert!(page.html.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(page.html.contains(&format!("<style>{STYLE}</style>")));
        assert!(
            !page.html.contains("src=\"http"),
            "the page loads nothing from elsewhere"
        );
    }
}
