//! One permission matrix: every route of the system against every kind of caller, each cell
//! the answer's class, checked over HTTP on the local system. The table is written by hand, on
//! purpose: it states what the route table's policies must add up to, and a route without a
//! row (or a row without a route) fails the test.

use std::collections::BTreeSet;

use chrono::Utc;
use functions::wiring::{FUNCTIONS, routes};
use infra::compose::{Backend, LocalBackend};
use infra::config::LocalConfig;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::accounts::ClientInfo;
use shared::jobs::repo::insert_write;
use shared::jobs::{Job, JobStatus};
use shared::rbac::model::seeded_role_id;
use shared::rbac::seed::{ADMIN, MODERATOR};
use uuid::Uuid;

use crate::auth::PASSWORD;

/// What a caller gets from a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Let through to the handler: any answer but 401, 403 and a server error.
    Pass,
    /// 401: no (valid) credentials.
    Unauth,
    /// 403: authenticated, not allowed.
    Forbid,
}

use Class::{Forbid as F, Pass as P, Unauth as U};

/// The callers, in the columns' order: nobody; a USER on their own id; a USER on another
/// user's id; a MODERATOR and an ADMIN, both on another user's id.
const CALLERS: [&str; 5] = [
    "anonymous",
    "USER on self",
    "USER on another",
    "MODERATOR",
    "ADMIN",
];

#[rustfmt::skip]
const MATRIX: &[(&str, &str, [Class; 5])] = &[
    ("GET",    "/health",                             [P, P, P, P, P]),
    ("GET",    "/.well-known/jwks.json",              [P, P, P, P, P]),
    ("GET",    "/openapi.json",                       [P, P, P, P, P]),
    ("GET",    "/docs",                               [P, P, P, P, P]),
    ("POST",   "/api/v1/auth/register",               [P, P, P, P, P]),
    ("POST",   "/api/v1/auth/verify-email",           [P, P, P, P, P]),
    ("POST",   "/api/v1/auth/resend-verification",    [P, P, P, P, P]),
    ("POST",   "/api/v1/auth/login",                  [P, P, P, P, P]),
    ("POST",   "/api/v1/auth/refresh",                [P, P, P, P, P]),
    ("POST",   "/api/v1/auth/reset-password",         [P, P, P, P, P]),
    ("POST",   "/api/v1/auth/confirm-reset",          [P, P, P, P, P]),
    ("POST",   "/api/v1/auth/logout",                 [U, P, P, P, P]),
    ("POST",   "/api/v1/auth/logout-all",             [U, P, P, P, P]),
    ("PUT",    "/api/v1/auth/change-password",        [U, P, P, P, P]),
    ("GET",    "/api/v1/auth/profile",                [U, P, P, P, P]),
    ("GET",    "/api/v1/auth/permissions",            [U, P, P, P, P]),
    ("GET",    "/api/v1/auth/sessions",               [U, P, P, P, P]),
    ("DELETE", "/api/v1/auth/sessions/{id}",          [U, P, P, P, P]),
    ("POST",   "/api/v1/users",                       [U, F, F, F, P]),
    ("GET",    "/api/v1/users",                       [U, F, F, P, P]),
    ("GET",    "/api/v1/users/{id}",                  [U, P, F, P, P]),
    ("PATCH",  "/api/v1/users/{id}",                  [U, P, F, P, P]),
    ("DELETE", "/api/v1/users/{id}",                  [U, F, F, F, P]),
    ("POST",   "/api/v1/users/{id}/avatar",           [U, P, F, P, P]),
    ("GET",    "/api/v1/users/{id}/roles",            [U, P, F, P, P]),
    ("POST",   "/api/v1/users/{id}/roles",            [U, F, F, F, P]),
    ("DELETE", "/api/v1/users/{id}/roles/{role_id}",  [U, F, F, F, P]),
    ("GET",    "/api/v1/roles",                       [U, F, F, F, P]),
    ("POST",   "/api/v1/roles",                       [U, F, F, F, P]),
    ("GET",    "/api/v1/roles/{id}",                  [U, F, F, F, P]),
    ("PATCH",  "/api/v1/roles/{id}",                  [U, F, F, F, P]),
    ("DELETE", "/api/v1/roles/{id}",                  [U, F, F, F, P]),
    ("PUT",    "/api/v1/roles/{id}/permissions",      [U, F, F, F, P]),
    ("GET",    "/api/v1/permissions",                 [U, F, F, F, P]),
    ("POST",   "/api/v1/permissions",                 [U, F, F, F, P]),
    ("GET",    "/api/v1/permissions/{id}",            [U, F, F, F, P]),
    ("PATCH",  "/api/v1/permissions/{id}",            [U, F, F, F, P]),
    ("DELETE", "/api/v1/permissions/{id}",            [U, F, F, F, P]),
    ("POST",   "/api/v1/jobs",                        [U, F, F, F, P]),
    ("GET",    "/api/v1/jobs",                        [U, F, F, F, P]),
    ("GET",    "/api/v1/jobs/{id}",                   [U, F, F, F, P]),
    ("POST",   "/api/v1/jobs/{id}/cancel",            [U, F, F, F, P]),
    ("POST",   "/api/v1/jobs/{id}/retry",             [U, F, F, F, P]),
];

#[test]
fn every_route_has_one_row_and_every_row_a_route() {
    let declared: BTreeSet<(&str, &str)> = routes(FUNCTIONS)
        .iter()
        .map(|r| (r.method, r.path))
        .chain([("GET", "/health")])
        .collect();
    let rows: BTreeSet<(&str, &str)> = MATRIX.iter().map(|(m, p, _)| (*m, *p)).collect();
    assert_eq!(rows.len(), MATRIX.len(), "a route has two rows");
    let missing: Vec<_> = declared.difference(&rows).collect();
    let stray: Vec<_> = rows.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the matrix: {missing:?}"
    );
    assert!(stray.is_empty(), "rows of no route: {stray:?}");
}

/// The ids a path's parameters stand for, by route family.
struct Ids {
    own: Uuid,
    other: Uuid,
    role: Uuid,
    permission: Uuid,
    job: Uuid,
}

impl Ids {
    fn path(&self, template: &str, user: Uuid) -> String {
        let id = if template.starts_with("/api/v1/users/") {
            user
        } else if template.starts_with("/api/v1/roles/") {
            self.role
        } else if template.starts_with("/api/v1/permissions/") {
            self.permission
        } else if template.starts_with("/api/v1/jobs/") {
            self.job
        } else {
            Uuid::now_v7()
        };
        template
            .replace("{id}", &id.to_string())
            .replace("{role_id}", &seeded_role_id(MODERATOR).to_string())
    }
}

#[tokio::test]
async fn every_caller_gets_what_the_matrix_says_from_every_route() -> anyhow::Result<()> {
    let app = tests::app::spawn_app().await?;
    let backend =
        LocalBackend::open_default(LocalConfig::new(app.data_dir(), &app.address)).await?;
    let accounts = backend.accounts()?;
    let issuer = backend.token_issuer()?;
    let mut emails = Vec::new();
    let mut ids = Vec::new();
    for (email, roles) in [
        ("ada@example.com", vec![]),
        ("grace@example.com", vec![]),
        ("mod@example.com", vec![seeded_role_id(MODERATOR)]),
        ("root@example.com", vec![seeded_role_id(ADMIN)]),
    ] {
        let mut account = tests::local::new_account(email, PASSWORD, true)?;
        account.extra_roles = roles;
        ids.push(accounts.create(account).await?.id);
        emails.push(email);
    }
    let admin = shared::rbac::RbacAdmin::new(backend.store()?, backend.clock(), backend.random());
    let permission = admin
        .create_permission(shared::rbac::admin::NewPermission {
            name: shared::rbac::PermissionName::parse("reports:read")?,
            description: String::new(),
        })
        .await?;
    let now = Utc::now();
    let job = Job::new(
        Uuid::now_v7(),
        "purge_expired",
        json!({}),
        3,
        now,
        now + chrono::TimeDelta::days(1),
    );
    backend.store()?.transact(vec![insert_write(&job)?]).await?;
    assert_eq!(job.status, JobStatus::Queued);
    let ids = Ids {
        own: ids[0],
        other: ids[1],
        role: seeded_role_id(MODERATOR),
        permission: permission.id,
        job: job.id,
    };
    // Each caller column: who signs in (none for anonymous) and on whose id it acts.
    let columns: [(Option<&str>, Uuid); 5] = [
        (None, ids.other),
        (Some(emails[0]), ids.own),
        (Some(emails[0]), ids.other),
        (Some(emails[2]), ids.other),
        (Some(emails[3]), ids.other),
    ];

    let mut wrong = Vec::new();
    let mut signins = 0u32;
    for (method, template, expected) in MATRIX {
        for (column, (who, target)) in columns.iter().enumerate() {
            // A fresh session per call: logout and logout-all end the caller's own.
            let token = match who {
                Some(email) => {
                    signins += 1;
                    let client = ClientInfo {
                        ip: Some(format!("10.0.{}.{}", signins / 250, signins % 250)),
                        user_agent: None,
                    };
                    Some(
                        accounts
                            .login(&issuer, email, PASSWORD, &client)
                            .await?
                            .access
                            .token,
                    )
                }
                None => None,
            };
            let path = ids.path(template, *target);
            let method = Method::from_bytes(method.as_bytes())?;
            let mut request = app.client.request(method.clone(), app.url(&path));
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            if [Method::POST, Method::PUT, Method::PATCH].contains(&method) {
                request = request.json(&json!({}));
            }
            let status = request.send().await?.status();
            let got = match status {
                StatusCode::UNAUTHORIZED => Class::Unauth,
                StatusCode::FORBIDDEN => Class::Forbid,
                _ => Class::Pass,
            };
            if got != expected[column] || status.is_server_error() {
                wrong.push(format!(
                    "{method} {template} as {}: {status}, the matrix says {:?}",
                    CALLERS[column], expected[column]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    app.stop().await
}
