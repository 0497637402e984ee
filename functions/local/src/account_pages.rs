//! The two pages the links in the mails open: `/verify-email?token=...` and
//! `/reset-password?token=...` at `APP_URL`, which on the local system is the local server. On
//! AWS they belong to the front end; here the local system serves small pages of its own so a
//! newcomer can follow a link from the mailbox and finish the flow.
//!
//! Each page is a plain form: opening the link does nothing by itself (mail scanners open links
//! too), and submitting it posts the token back here, where the page calls the API in process
//! (`POST /api/v1/auth/verify-email` or `/confirm-reset`, through the same router and
//! middleware a client would reach) and says what happened. No script runs and nothing loads
//! from elsewhere: the policy allows the inline styles and posting the form to this server.
//! Every outcome is a page for a person, answered 200 (the API's own status is its business; a
//! 4xx here would be turned into problem+json by the API's middleware).

use std::fmt::Write as _;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use functions::auth::guard::Route;
use http::{Request, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::emails::escape_html;
use tower::ServiceExt;

pub const VERIFY_PATH: &str = "/verify-email";
pub const RESET_PATH: &str = "/reset-password";

/// The pages' routes, for the deny-by-default table.
pub const ROUTES: &[Route] = &[
    Route::public("GET", VERIFY_PATH),
    Route::public("POST", VERIFY_PATH),
    Route::public("GET", RESET_PATH),
    Route::public("POST", RESET_PATH),
];

/// The most of an API answer a page reads: problems and small bodies.
const ANSWER_LIMIT: usize = 64 * 1024;

/// Inline styles, and forms posted back to this server; nothing else.
const POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// The pages over `api`, the router whose endpoints they call.
pub fn routes(api: Router) -> Router {
    Router::new()
        .route(VERIFY_PATH, get(verify_form).post(verify))
        .route(RESET_PATH, get(reset_form).post(reset))
        .with_state(api)
}

#[derive(Deserialize)]
struct Link {
    #[serde(default)]
    token: String,
}

// No Debug: it holds a token and a password.
#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
}

async fn verify_form(Query(link): Query<Link>) -> Response {
    page(
        StatusCode::OK,
        "Verify your email address",
        &format!(
            "<p>Confirm that this address is yours.</p>\
             <form method=\"post\" action=\"{VERIFY_PATH}\">{}\
             <button type=\"submit\">Verify my address</button></form>",
            hidden_token(&link.token)
        ),
    )
}

async fn verify(State(api): State<Router>, Form(link): Form<Link>) -> Response {
    let body = json!({ "token": link.token });
    match call(api, "/api/v1/auth/verify-email", body).await {
        Ok((status, _)) if status.is_success() => page(
            StatusCode::OK,
            "Address verified",
            "<p>Your email address is verified. You can log in now.</p>",
        ),
        Ok((_, problem)) => page(
            StatusCode::OK,
            "The address was not verified",
            &explain(&problem, "This link is invalid, expired or used already."),
        ),
        Err(error) => failed(&error),
    }
}

async fn reset_form(Query(link): Query<Link>) -> Response {
    page(
        StatusCode::OK,
        "Choose a new password",
        &reset_fields(&link.token),
    )
}

async fn reset(State(api): State<Router>, Form(form): Form<ResetForm>) -> Response {
    let body = json!({ "token": form.token, "new_password": form.new_password });
    match call(api, "/api/v1/auth/confirm-reset", body).await {
        Ok((status, _)) if status.is_success() => page(
            StatusCode::OK,
            "Password changed",
            "<p>Your password is changed and every session of the account has ended. \
             Log in with the new password.</p>",
        ),
        // A password the rules refuse: say why, and offer the form again with the same link.
        Ok((_, problem)) if problem["code"] == "validation_failed" => page(
            StatusCode::OK,
            "Choose a new password",
            &format!(
                "{}{}",
                explain(&problem, "The password was refused."),
                reset_fields(&form.token)
            ),
        ),
        Ok((_, problem)) => page(
            StatusCode::OK,
            "The password was not changed",
            &explain(&problem, "This link is invalid, expired or used already."),
        ),
        Err(error) => failed(&error),
    }
}

fn reset_fields(token: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{RESET_PATH}\">{}\
         <label>New password <input type=\"password\" name=\"new_password\" \
         autocomplete=\"new-password\" minlength=\"8\" required></label> \
         <button type=\"submit\">Set the password</button></form>",
        hidden_token(token)
    )
}

fn hidden_token(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"token\" value=\"{}\">",
        escape_html(token)
    )
}

/// What the API said, for a person: its detail and each field's message.
fn explain(problem: &Value, fallback: &str) -> String {
    let mut html = String::from("<p>");
    html.push_str(&escape_html(
        problem["detail"]
            .as_str()
            .filter(|d| !d.is_empty())
            .unwrap_or(fallback),
    ));
    html.push_str("</p>");
    if let Some(errors) = problem["errors"].as_array() {
        html.push_str("<ul>");
        for error in errors {
            // Writing to a String cannot fail.
            let _ = write!(
                html,
                "<li>{}: {}</li>",
                escape_html(error["field"].as_str().unwrap_or_default()),
                escape_html(error["message"].as_str().unwrap_or_default())
            );
        }
        html.push_str("</ul>");
    }
    html
}

fn failed(error: &anyhow::Error) -> Response {
    tracing::error!(
        error = format!("{error:#}"),
        "an account page could not call the API"
    );
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "<p>The request could not be completed; the local system's log says why.</p>",
    )
}

/// Posts `body` as JSON to `path` on the API and reads the answer.
async fn call(api: Router, path: &str, body: Value) -> anyhow::Result<(StatusCode, Value)> {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))?;
    let response = api.oneshot(request).await?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), ANSWER_LIMIT).await?;
    let answer = match bytes.is_empty() {
        true => Value::Null,
        false => serde_json::from_slice(&bytes)?,
    };
    Ok((status, answer))
}

fn page(status: StatusCode, title: &str, content: &str) -> Response {
    let title = escape_html(title);
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title><style>\
         body{{font:15px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         input,button{{font:inherit;padding:.3rem .6rem;margin:.3rem 0}}\
         label{{display:block}}</style></head><body><h1>{title}</h1>{content}</body></html>"
    );
    (
        status,
        [(header::CONTENT_SECURITY_POLICY, POLICY)],
        Html(html),
    )
        .into_response()
}
