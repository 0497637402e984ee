//! The pages, in a real browser (headless Chromium over WebDriver) against the local system:
//! the docs page renders every operation, and a new user verifies their address by clicking
//! the link in the local mailbox, with no console error on the way. Screenshots go to
//! `target/browser/`.

use std::path::PathBuf;

use functions::wiring::{FUNCTIONS, routes};
use reqwest::StatusCode;
use serde_json::json;
use tests::browser::Browser;

use crate::auth::PASSWORD;

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser")
}

#[tokio::test]
async fn the_docs_page_lists_every_operation_and_a_mailed_link_verifies_an_account()
-> anyhow::Result<()> {
    let app = tests::app::spawn_app().await?;
    let browser = Browser::start().await?;

    browser.open(&app.url("/docs")).await?;
    let rendered = browser.find("#operations[data-operations]").await?;
    let count = browser.attribute(&rendered, "data-operations").await?;
    assert_eq!(
        count,
        Some(routes(FUNCTIONS).len().to_string()),
        "operations listed"
    );
    let register = browser.find("#register summary").await?;
    browser.click(&register).await?;
    assert!(
        browser
            .text(&register)
            .await?
            .contains("/api/v1/auth/register")
    );
    let shot = browser.screenshot(&screenshots(), "docs").await?;
    let errors = browser.console_errors().await?;
    assert!(errors.is_empty(), "the docs page logged errors: {errors:?}");

    // A new user registers, reads the mail in the local mailbox and follows its link.
    let email = "grace@example.com";
    let registered = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": email, "name": "Grace Hopper", "password": PASSWORD}),
        )
        .await?;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let mut link = None;
    for _ in 0..50 {
        browser.open(&app.url("/_local/mailbox/view")).await?;
        link = browser
            .find_all("a[href*='/verify-email?token=']")
            .await?
            .into_iter()
            .next();
        if link.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let link = link.expect("the verification mail never reached the mailbox page");
    browser.screenshot(&screenshots(), "mailbox").await?;
    browser.click(&link).await?;
    let confirm = browser.find("form button[type=submit]").await?;
    browser.click(&confirm).await?;
    browser.text_containing("is verified").await?;
    browser.screenshot(&screenshots(), "verified").await?;
    let errors = browser.console_errors().await?;
    assert!(
        errors.is_empty(),
        "the mailbox or account pages logged errors: {errors:?}"
    );

    let login = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await?;
    assert_eq!(login.status(), StatusCode::OK, "the account is verified");
    assert!(shot.exists());
    browser.close().await?;
    app.stop().await
}
