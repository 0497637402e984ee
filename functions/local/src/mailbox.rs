//! The local mailbox over HTTP: `GET /_local/mailbox` (JSON) and `GET /_local/mailbox/view` (a
//! page to read the mails in a browser, with no script and nothing fetched from elsewhere).

use shared::emails::escape_html;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use http::header;
use infra::mail::mailbox::{Mailbox, StoredMail};
use serde::Serialize;

use functions::http::ApiError;

pub const LIST_PATH: &str = "/_local/mailbox";
pub const VIEW_PATH: &str = "/_local/mailbox/view";

/// The page's own styles are inline; nothing else may load.
const VIEW_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

#[derive(Debug, Serialize)]
struct Mails {
    items: Vec<StoredMail>,
}

pub fn routes(mailbox: Arc<Mailbox>) -> Router {
    Router::new()
        .route(LIST_PATH, get(list))
        .route(VIEW_PATH, get(view))
        .with_state(mailbox)
}

async fn list(State(mailbox): State<Arc<Mailbox>>) -> Result<axum::Json<Mails>, ApiError> {
    let items = mailbox
        .list()
        .await
        .map_err(|e| ApiError::Internal(e.context("listing the mailbox")))?;
    Ok(axum::Json(Mails { items }))
}

async fn view(State(mailbox): State<Arc<Mailbox>>) -> Result<impl IntoResponse, ApiError> {
    let mails = mailbox
        .list()
        .await
        .map_err(|e| ApiError::Internal(e.context("listing the mailbox")))?;
    Ok((
        [(header::CONTENT_SECURITY_POLICY, VIEW_POLICY)],
        Html(page(&mails)),
    ))
}

fn page(mails: &[StoredMail]) -> String {
    let mut html = String::from(concat!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Local mailbox</title><style>",
        "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}",
        "article{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}",
        "pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;padding:.5rem}",
        "small{color:#666}</style></head><body><h1>Local mailbox</h1>",
    ));
    if mails.is_empty() {
        html.push_str("<p>No mail yet.</p>");
    }
    for mail in mails {
        // Writing to a String cannot fail.
        let _ = write!(
            html,
            "<article><h2>{}</h2><small>to {} at {}</small><pre>{}</pre>\
             <details><summary>HTML body</summary><pre>{}</pre></details></article>",
            escape_html(&mail.subject),
            escape_html(&mail.to),
            mail.sent_at.to_rfc3339(),
            linked(&mail.text),
            escape_html(&mail.html),
        );
    }
    html.push_str("</body></html>");
    html
}

/// Escaped text with its http(s) URLs made into links, so token links can be followed.
fn linked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest
        .find("http://")
        .into_iter()
        .chain(rest.find("https://"))
        .min()
    {
        out.push_str(&escape_html(&rest[..start]));
        let len = rest[start..]
            .find(|c: char| c.is_whitespace() || c == '<' || c == '"')
            .unwrap_or(rest.len() - start);
        let url = escape_html(&rest[start..start + len]);
        let _ = write!(out, "<a href=\"{url}\">{url}</a>");
        rest = &rest[start + len..];
    }
    out.push_str(&escape_html(rest));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_mail_is_shown_not_run() {
        assert_eq!(
            escape_html("<script>alert('x')</script> & \""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;"
        );
    }

    #[test]
    fn links_in_the_text_can_be_followed() {
        let text = "Verify: http://127.0.0.1:3000/verify?token=a&b=<c>\nThanks";
        assert_eq!(
            linked(text),
            "Verify: <a href=\"http://127.0.0.1:3000/verify?token=a&amp;b=\">http://127.0.0.1:3000/verify?token=a&amp;b=</a>&lt;c&gt;\nThanks"
        );
    }
}
