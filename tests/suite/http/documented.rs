//! Requests the OpenAPI document once called valid and the server refuses (found by the fuzz
//! suite): each case is sent to the local system and judged by the committed document, and the
//! two must agree, refused by both or accepted by both.

use anyhow::Context;
use local_system::options::BootstrapAdmin;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::auth::password::Password;
use shared::users::Email;
use tests::app::{TestApp, spawn_app_with};

use crate::auth::PASSWORD;

const ADMIN_EMAIL: &str = "root@example.com";

fn document() -> anyhow::Result<Value> {
    Ok(serde_json::from_str(functions::openapi::COMMITTED)?)
}

/// Whether `value` matches `schema`, a schema of `document` (its references resolved there).
fn admits(document: &Value, schema: &Value, value: &Value) -> anyhow::Result<bool> {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": document["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&root)
        .map_err(|e| anyhow::anyhow!("the schema does not compile: {e}"))?;
    Ok(validator.is_valid(value))
}

/// A query or header value as the document's schema reads it: a number where it is one.
fn parameter_value(raw: &str) -> Value {
    raw.parse::<i64>().map_or_else(|_| json!(raw), |n| json!(n))
}

async fn admin_app() -> anyhow::Result<(TestApp, String)> {
    let admin = BootstrapAdmin {
        email: Email::parse(ADMIN_EMAIL)?,
        password: Password::parse(PASSWORD.into())?,
    };
    let app = spawn_app_with(|options| local_system::Options {
        bootstrap_admin: Some(admin),
        ..options
    })
    .await?;
    let login: Value = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": ADMIN_EMAIL, "password": PASSWORD}),
        )
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = login["access_token"]
        .as_str()
        .context("no access token")?
        .to_owned();
    Ok((app, token))
}

/// Sends `body` to `path` and judges it by the request schema of the operation `template`
/// names; both verdicts.
async fn send(
    app: &TestApp,
    token: &str,
    document: &Value,
    (method, template, path): (Method, &str, &str),
    body: &Value,
) -> anyhow::Result<(StatusCode, bool)> {
    let status = app
        .client
        .request(method.clone(), app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await?
        .status();
    let operation = &document["paths"][template][method.as_str().to_lowercase()];
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    anyhow::ensure!(
        !schema.is_null(),
        "{method} {template} has no request schema"
    );
    Ok((status, admits(document, schema, body)?))
}

async fn create(
    app: &TestApp,
    token: &str,
    document: &Value,
    path: &str,
    body: &Value,
) -> anyhow::Result<(StatusCode, bool)> {
    send(app, token, document, (Method::POST, path, path), body).await
}

/// Each body sent to the operation: refused by the server with 400 and by the document, or
/// taken with `taken` and admitted by the document.
async fn agree(
    app: &TestApp,
    token: &str,
    document: &Value,
    operation: (Method, &str, &str),
    cases: &[(Value, Option<StatusCode>)],
) -> anyhow::Result<()> {
    let (method, template, path) = operation;
    for (body, taken) in cases {
        let (status, documented) =
            send(app, token, document, (method.clone(), template, path), body).await?;
        assert_eq!(
            status,
            taken.unwrap_or(StatusCode::BAD_REQUEST),
            "{method} {path} {body}"
        );
        assert_eq!(
            documented,
            taken.is_some(),
            "the document on {method} {template} {body}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_new_role_or_permission_without_a_valid_name_was_documented_as_valid()
-> anyhow::Result<()> {
    let (app, token) = admin_app().await?;
    let document = document()?;
    let refused = [
        ("/api/v1/roles", json!({})),
        ("/api/v1/roles", json!({"name": null})),
        ("/api/v1/roles", json!({"name": "auditor"})),
        ("/api/v1/roles", json!({"name": "A"})),
        (
            "/api/v1/roles",
            json!({"name": "AUDITOR", "description": "x".repeat(501)}),
        ),
        ("/api/v1/permissions", json!({})),
        ("/api/v1/permissions", json!({"name": null})),
        ("/api/v1/permissions", json!({"name": "reports"})),
        ("/api/v1/permissions", json!({"name": "Reports:read"})),
        ("/api/v1/permissions", json!({"name": "reports:read:all"})),
    ];
    for (path, body) in &refused {
        let (status, documented) = create(&app, &token, &document, path, body).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}");
        assert!(!documented, "the document admits {body} for {path}");
    }
    let accepted = [
        ("/api/v1/roles", json!({"name": "AUDITOR_2"})),
        (
            "/api/v1/permissions",
            json!({"name": "reports:read_all", "description": "x".repeat(500)}),
        ),
    ];
    for (path, body) in &accepted {
        let (status, documented) = create(&app, &token, &document, path, body).await?;
        assert_eq!(status, StatusCode::CREATED, "{path} {body}");
        assert!(documented, "the document refuses {body} for {path}");
    }
    app.stop().await
}

#[tokio::test]
async fn a_listings_query_parameters_were_documented_as_any_text() -> anyhow::Result<()> {
    let (app, token) = admin_app().await?;
    let document = document()?;
    // (path, parameter, value, whether the server takes it)
    let cases = [
        ("/api/v1/users", "limit", "0", false),
        ("/api/v1/users", "limit", "101", false),
        ("/api/v1/users", "limit", "ten", false),
        ("/api/v1/users", "limit", "100", true),
        ("/api/v1/users", "status", "gone", false),
        ("/api/v1/users", "status", "disabled", true),
        ("/api/v1/users", "q", "a", false),
        ("/api/v1/users", "q", &"a".repeat(65), false),
        ("/api/v1/users", "q", "ad", true),
        ("/api/v1/jobs", "limit", "0", false),
        ("/api/v1/jobs", "limit", "1", true),
        ("/api/v1/jobs", "status", "done", false),
        ("/api/v1/jobs", "status", "dead", true),
        ("/api/v1/jobs", "type", "Export", false),
        ("/api/v1/jobs", "type", "", false),
        ("/api/v1/jobs", "type", "export_users", true),
    ];
    for (path, name, value, taken) in cases {
        let status = app
            .client
            .get(app.url(path))
            .query(&[(name, value)])
            .bearer_auth(&token)
            .send()
            .await?
            .status();
        let parameter = document["paths"][path]["get"]["parameters"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["name"] == name))
            .with_context(|| format!("{path} documents no {name}"))?;
        let documented = admits(&document, &parameter["schema"], &parameter_value(value))?;
        let expected = if taken {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(status, expected, "{path}?{name}={value}");
        assert_eq!(documented, taken, "the document on {path}?{name}={value}");
    }
    app.stop().await
}

#[tokio::test]
async fn an_idempotency_key_was_documented_as_any_text_and_its_reuse_undescribed()
-> anyhow::Result<()> {
    let (app, token) = admin_app().await?;
    let document = document()?;
    let operation = &document["paths"]["/api/v1/jobs"]["post"];
    let parameter = operation["parameters"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == "Idempotency-Key"))
        .context("POST /jobs documents no Idempotency-Key")?;
    let body = json!({"type": "purge_expired", "payload": {}});
    for (key, taken) in [
        ("a key", false),
        (&*"k".repeat(256), false),
        (&*"k".repeat(255), true),
        ("retry-7f3a:{1}", true),
    ] {
        let status = app
            .client
            .request(Method::POST, app.url("/api/v1/jobs"))
            .bearer_auth(&token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await?
            .status();
        let documented = admits(&document, &parameter["schema"], &json!(key))?;
        let expected = if taken {
            StatusCode::ACCEPTED
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(status, expected, "Idempotency-Key {key:?}");
        assert_eq!(documented, taken, "the document on Idempotency-Key {key:?}");
    }
    // The same key with another body: the 422 the document describes.
    let reused = app
        .client
        .post(app.url("/api/v1/jobs"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "retry-7f3a:{1}")
        .json(&json!({"type": "export_users", "payload": {}}))
        .send()
        .await?;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = reused.json().await?;
    assert_eq!(problem["code"], "idempotency_key_reused");
    let described = operation["responses"]["422"]["description"].as_str();
    assert!(
        described.is_some_and(|d| d.contains("idempotency_key_reused")),
        "{described:?}"
    );
    app.stop().await
}

#[tokio::test]
async fn a_new_password_was_documented_as_any_text() -> anyhow::Result<()> {
    let (app, token) = admin_app().await?;
    let document = document()?;
    let user = |email: &str, password: &str| json!({"email": email, "name": "Ada", "password": password, "email_verified": true});
    let register =
        |email: &str, password: &str| json!({"email": email, "name": "Ada", "password": password});
    let created = Some(StatusCode::CREATED);
    let users = (Method::POST, "/api/v1/users", "/api/v1/users");
    agree(
        &app,
        &token,
        &document,
        users,
        &[
            (user("a@example.com", "seven c"), None),
            (user("b@example.com", &"long ".repeat(26)), None),
            (user("c@example.com", "eight ch"), created),
            (user("d@example.com", &"x".repeat(128)), created),
        ],
    )
    .await?;
    let path = "/api/v1/auth/register";
    agree(
        &app,
        &token,
        &document,
        (Method::POST, path, path),
        &[
            (register("e@example.com", "seven c"), None),
            (register("f@example.com", "long enough here"), created),
        ],
    )
    .await?;
    // The other operations that take a new password say the same of it.
    let schemas = &document["components"]["schemas"];
    for (schema, field) in [
        ("ConfirmResetRequest", "new_password"),
        ("ChangePasswordRequest", "new_password"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field],
            schemas["RegisterRequest"]["properties"]["password"],
            "{schema}"
        );
    }
    app.stop().await
}

#[tokio::test]
async fn a_job_type_and_delay_were_documented_as_any_text_and_any_number() -> anyhow::Result<()> {
    let (app, token) = admin_app().await?;
    let document = document()?;
    let accepted = Some(StatusCode::ACCEPTED);
    agree(
        &app,
        &token,
        &document,
        (Method::POST, "/api/v1/jobs", "/api/v1/jobs"),
        &[
            (json!({"type": "send_email"}), None),
            (json!({"type": "make_coffee"}), None),
            (json!({"type": "export_users", "delay_seconds": 901}), None),
            (
                json!({"type": "export_users", "delay_seconds": 900}),
                accepted,
            ),
            (json!({"type": "purge_expired"}), accepted),
        ],
    )
    .await?;
    app.stop().await
}

#[tokio::test]
async fn an_avatars_content_type_was_documented_as_any_text() -> anyhow::Result<()> {
    let (app, token) = admin_app().await?;
    let document = document()?;
    let profile: Value = app
        .client
        .get(app.url("/api/v1/auth/profile"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let id = profile["user"]["id"].as_str().context("no user id")?;
    let path = format!("/api/v1/users/{id}/avatar");
    let template = "/api/v1/users/{id}/avatar";
    let ok = Some(StatusCode::OK);
    agree(
        &app,
        &token,
        &document,
        (Method::POST, template, &path),
        &[
            (json!({"content_type": "image/svg+xml"}), None),
            (json!({"content_type": "image/png+"}), None),
            (json!({"content_type": "image/webp"}), ok),
            // As any MIME type: in any case, and white space around it is no part of it.
            (json!({"content_type": " IMAGE/Png\u{3000}"}), ok),
        ],
    )
    .await?;
    app.stop().await
}

#[tokio::test]
async fn a_change_of_a_role_or_permission_name_was_documented_as_any_text() -> anyhow::Result<()> {
    let (app, token) = admin_app().await?;
    let document = document()?;
    let ok = Some(StatusCode::OK);
    for (path, name, wrong, right) in [
        ("/api/v1/roles", "role", "auditor", "AUDITOR_2"),
        (
            "/api/v1/permissions",
            "permission",
            "AUDIT",
            "audit:read_all",
        ),
    ] {
        let first = if name == "role" {
            "AUDITOR"
        } else {
            "audit:read"
        };
        let created: Value = app
            .client
            .post(app.url(path))
            .bearer_auth(&token)
            .json(&json!({"name": first}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = created[name]["id"].as_str().context("no id")?;
        let one = format!("{path}/{id}");
        let template = format!("{path}/{{id}}");
        agree(
            &app,
            &token,
            &document,
            (Method::PATCH, &template, &one),
            &[
                (json!({"name": wrong}), None),
                (json!({"description": "x".repeat(501)}), None),
                (json!({"name": right}), ok),
                (json!({"description": "Reads the audit trail"}), ok),
            ],
        )
        .await?;
    }
    app.stop().await
}
