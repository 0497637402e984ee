//! The last active administrator can be neither unassigned nor disabled, and two
//! administrators removing each other at once leave one.

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::rbac::model::seeded_role_id;
use shared::rbac::seed::ADMIN;
use uuid::Uuid;

use super::{admin, send};
use crate::auth::{AuthSystem, on_both_systems};

fn revoke_admin(user: Uuid) -> String {
    format!("/api/v1/users/{user}/roles/{}", seeded_role_id(ADMIN))
}

async fn the_last_administrator_keeps_the_role_and_stays_active(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (root, token) = admin(app, "root@example.com").await?;
    let (status, problem) = send(app, Method::DELETE, &revoke_admin(root), &token, None).await?;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "last_admin");
    let disable = json!({"status": "disabled"});
    let path = format!("/api/v1/users/{root}");
    let (status, problem) = send(app, Method::PATCH, &path, &token, Some(disable)).await?;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "last_admin");

    // With a second administrator, either may go.
    let (second, _) = admin(app, "second@example.com").await?;
    let (status, _) = send(app, Method::DELETE, &revoke_admin(second), &token, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let body = json!({"role_id": seeded_role_id(ADMIN)});
    let assign = format!("/api/v1/users/{second}/roles");
    let (status, _) = send(app, Method::POST, &assign, &token, Some(body)).await?;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(app, Method::DELETE, &revoke_admin(root), &token, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    Ok(())
}

async fn two_administrators_removing_each_other_at_once_leave_one(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    for round in 0..3 {
        let (a, a_token) = admin(app, &format!("a{round}@example.com")).await?;
        let (b, b_token) = admin(app, &format!("b{round}@example.com")).await?;
        // Everyone else's ADMIN is taken away first, so these two are the last.
        let store = app.store().await?;
        let roster = shared::rbac::admins::Roster::read(store.as_ref()).await?;
        for other in roster.members.iter().filter(|m| ![a, b].contains(m)) {
            let (status, _) =
                send(app, Method::DELETE, &revoke_admin(*other), &a_token, None).await?;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        // Round by round: each revokes the other's ADMIN, or each disables the other.
        let (a_path, b_path, method, body) = if round % 2 == 0 {
            (revoke_admin(a), revoke_admin(b), Method::DELETE, None)
        } else {
            let disable = json!({"status": "disabled"});
            (
                format!("/api/v1/users/{a}"),
                format!("/api/v1/users/{b}"),
                Method::PATCH,
                Some(disable),
            )
        };
        let (first, second) = tokio::join!(
            send(app, method.clone(), &b_path, &a_token, body.clone()),
            send(app, method, &a_path, &b_token, body),
        );
        let statuses = [first?.0, second?.0];
        let succeeded = statuses.iter().filter(|s| s.is_success()).count();
        assert_eq!(succeeded, 1, "round {round}: {statuses:?}");
        let roster = shared::rbac::admins::Roster::read(store.as_ref()).await?;
        assert_eq!(roster.members.len(), 1, "round {round}: {roster:?}");
    }
    Ok(())
}

on_both_systems!(
    the_last_administrator_keeps_the_role_and_stays_active,
    two_administrators_removing_each_other_at_once_leave_one,
);
