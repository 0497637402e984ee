//! `GET /api/v1/users`: pages that cover every user once, newest first; filters by status and
//! by search; cursors that cannot be forged or carried to other filters.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::auth::{AuthSystem, PASSWORD, on_both_systems};
use crate::rbac::{admin, send};

/// Every page of `query` (`limit` per page): the users' emails in order, and how many pages.
async fn every_page(
    app: &impl AuthSystem,
    token: &str,
    query: &str,
) -> anyhow::Result<(Vec<String>, usize)> {
    let mut emails = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?{query}&cursor={c}"),
            None => format!("/api/v1/users?{query}"),
        };
        let (status, page) = send(app, Method::GET, &path, token, None).await?;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        pages += 1;
        let items = page["items"].as_array().unwrap();
        let times: Vec<&str> = items
            .iter()
            .map(|u| u["created_at"].as_str().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "not newest first: {times:?}"
        );
        emails.extend(
            items
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok((emails, pages)),
        }
        assert!(pages < 50, "the pages do not end");
    }
}

async fn create(
    app: &impl AuthSystem,
    token: &str,
    email: &str,
    name: &str,
) -> anyhow::Result<String> {
    let body = json!({"email": email, "name": name, "password": PASSWORD, "email_verified": true});
    let (status, created) = send(app, Method::POST, "/api/v1/users", token, Some(body)).await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    Ok(created["user"]["id"].as_str().unwrap().to_owned())
}

async fn pages_cover_every_user_once_and_filter_by_status(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (_, root) = admin(app, "root@example.com").await?;
    let mut ids = Vec::new();
    for n in 0..23 {
        ids.push(
            create(
                app,
                &root,
                &format!("u{n:02}@example.com"),
                &format!("User {n}"),
            )
            .await?,
        );
    }
    let (emails, pages) = every_page(app, &root, "limit=5").await?;
    assert_eq!(emails.len(), 24, "{emails:?}");
    assert_eq!(
        emails.iter().collect::<BTreeSet<_>>().len(),
        24,
        "a user twice: {emails:?}"
    );
    assert_eq!(pages, 5);
    assert_eq!(emails[0], "u22@example.com");

    for id in &ids[..3] {
        let path = format!("/api/v1/users/{id}");
        let (status, _) = send(
            app,
            Method::PATCH,
            &path,
            &root,
            Some(json!({"status": "disabled"})),
        )
        .await?;
        assert_eq!(status, StatusCode::OK);
    }
    let (disabled, _) = every_page(app, &root, "limit=2&status=disabled").await?;
    assert_eq!(
        disabled,
        ["u02@example.com", "u01@example.com", "u00@example.com"]
    );
    let (active, _) = every_page(app, &root, "limit=100&status=active").await?;
    assert_eq!(active.len(), 21);
    Ok(())
}

async fn a_search_finds_addresses_and_names_by_their_start(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (_, root) = admin(app, "root@example.com").await?;
    create(app, &root, "ada@example.com", "Ada Lovelace").await?;
    create(app, &root, "grace@example.com", "Grace Hopper").await?;
    create(app, &root, "countess@example.org", "Augusta Ada King").await?;
    let found = |q: &'static str| {
        let root = root.clone();
        async move {
            let (mut emails, _) = every_page(app, &root, &format!("limit=1&q={q}")).await?;
            emails.sort();
            anyhow::Ok(emails)
        }
    };
    assert_eq!(
        found("ADA").await?,
        ["ada@example.com", "countess@example.org"]
    );
    assert_eq!(found("love").await?, ["ada@example.com"]);
    assert_eq!(found("ada%20king").await?, ["countess@example.org"]);
    assert_eq!(found("grace%40ex").await?, ["grace@example.com"]);
    assert!(found("example.com").await?.is_empty());
    assert!(found("nobody").await?.is_empty());
    Ok(())
}

async fn bad_parameters_and_foreign_cursors_are_refused(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (_, root) = admin(app, "root@example.com").await?;
    for n in 0..3 {
        create(app, &root, &format!("u{n}@example.com"), "Someone").await?;
    }
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "status=gone",
        "q=a",
        "sort=name",
    ] {
        let (status, problem) = send(
            app,
            Method::GET,
            &format!("/api/v1/users?{query}"),
            &root,
            None,
        )
        .await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {problem}");
    }
    let (_, page) = send(app, Method::GET, "/api/v1/users?limit=1", &root, None).await?;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (body, tag) = cursor.split_once('.').unwrap();
    let mut flipped = body.as_bytes().to_vec();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{}.{tag}", String::from_utf8(flipped)?);
    for (query, what) in [
        (format!("limit=1&cursor={tampered}"), "a tampered cursor"),
        (
            format!("limit=1&status=active&cursor={cursor}"),
            "a cursor of other filters",
        ),
        ("limit=1&cursor=garbage".to_owned(), "garbage"),
    ] {
        let (status, problem) = send(
            app,
            Method::GET,
            &format!("/api/v1/users?{query}"),
            &root,
            None,
        )
        .await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {problem}");
        assert_eq!(problem["code"], "invalid_cursor", "{what}");
    }
    let (status, _) = send(
        app,
        Method::GET,
        &format!("/api/v1/users?limit=1&cursor={cursor}"),
        &root,
        None,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);

    app.create_user("ada@example.com", vec![]).await?;
    let ada = app.token_of("ada@example.com").await?;
    let (status, _): (StatusCode, Value) =
        send(app, Method::GET, "/api/v1/users", &ada, None).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    Ok(())
}

on_both_systems!(
    pages_cover_every_user_once_and_filter_by_status,
    a_search_finds_addresses_and_names_by_their_start,
    bad_parameters_and_foreign_cursors_are_refused,
);
