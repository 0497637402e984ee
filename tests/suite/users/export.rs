//! The `export_users` job, created over HTTP: a CSV of every user behind a short-lived link,
//! with no password hash and no cell a spreadsheet would run.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::auth::{AuthSystem, PASSWORD, on_both_systems};
use crate::conformance::eventually;
use crate::rbac::{admin, send};

async fn an_export_lists_every_user_safely_behind_a_short_lived_link(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (_, root) = admin(app, "root@example.com").await?;
    for (email, name) in [
        ("ada@example.com", "Ada Lovelace"),
        ("mallory@example.com", "=HYPERLINK(\"http://evil\")"),
        ("grace@example.com", "Grace, Rear Admiral"),
    ] {
        let body =
            json!({"email": email, "name": name, "password": PASSWORD, "email_verified": true});
        let (status, _) = send(app, Method::POST, "/api/v1/users", &root, Some(body)).await?;
        assert_eq!(status, StatusCode::CREATED);
    }
    let body = json!({"type": "export_users", "payload": {}});
    let (status, created) = send(app, Method::POST, "/api/v1/jobs", &root, Some(body)).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let path = format!("/api/v1/jobs/{}", created["job"]["id"].as_str().unwrap());
    let job: Value = eventually("the export succeeds", || async {
        app.step_background().await?;
        let (_, job) = send(app, Method::GET, &path, &root, None).await?;
        Ok((job["job"]["status"] == "succeeded").then(|| job["job"].clone()))
    })
    .await?;
    let result = &job["result"];
    assert_eq!(result["rows"], 4, "{result}");
    let url = result["download_url"].as_str().unwrap();
    let csv = reqwest::get(url).await?.error_for_status()?.text().await?;
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("id,email,name,phone,status"), "{csv}");
    assert!(
        csv.contains(",\"'=HYPERLINK(\"\"http://evil\"\")\","),
        "{csv}"
    );
    assert!(csv.contains(",\"Grace, Rear Admiral\","), "{csv}");
    assert!(
        !csv.contains("argon2"),
        "a password hash in the export: {csv}"
    );

    let disabled_only = json!({"type": "export_users", "payload": {"status": "disabled"}});
    let (status, _) = send(
        app,
        Method::POST,
        "/api/v1/jobs",
        &root,
        Some(disabled_only),
    )
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED);
    Ok(())
}

on_both_systems!(an_export_lists_every_user_safely_behind_a_short_lived_link);
