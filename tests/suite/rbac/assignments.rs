//! Assigning and revoking roles: nobody hands out more than they hold, only an administrator
//! hands out ADMIN, and an assignment that has run out grants nothing.

use chrono::{TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::rbac::model::{seeded_permission_id, seeded_role_id};
use shared::rbac::seed::{ADMIN, MODERATOR};

use super::{admin, permissions_of, send};
use crate::auth::{AuthSystem, on_both_systems};
use crate::conformance::eventually;

async fn nobody_hands_out_more_than_they_hold(app: &impl AuthSystem) -> anyhow::Result<()> {
    let (_, root) = admin(app, "root@example.com").await?;
    let grants = ["roles:assign", "roles:create", "users:read"].map(seeded_permission_id);
    let delegate = json!({"name": "DELEGATE", "permission_ids": grants});
    let (status, role) = send(app, Method::POST, "/api/v1/roles", &root, Some(delegate)).await?;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    let delegate_role = role["role"]["id"].as_str().unwrap().parse()?;
    app.create_user("del@example.com", vec![delegate_role])
        .await?;
    let del = app.token_of("del@example.com").await?;
    let ada = app.create_user("ada@example.com", vec![]).await?;
    let ada_roles = format!("/api/v1/users/{ada}/roles");

    for role in [seeded_role_id(ADMIN), seeded_role_id(MODERATOR)] {
        let body = json!({"role_id": role});
        let (status, problem) = send(app, Method::POST, &ada_roles, &del, Some(body)).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        assert_eq!(problem["code"], "escalation");
    }
    let wider = json!({"name": "WIDER", "permission_ids": [seeded_permission_id("jobs:read")]});
    let (status, problem) = send(app, Method::POST, "/api/v1/roles", &del, Some(wider)).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let reader = json!({"name": "READER", "permission_ids": [seeded_permission_id("users:read")]});
    let (status, reader) = send(app, Method::POST, "/api/v1/roles", &del, Some(reader)).await?;
    assert_eq!(status, StatusCode::CREATED, "{reader}");
    let body = json!({"role_id": reader["role"]["id"]});
    let (status, _) = send(app, Method::POST, &ada_roles, &del, Some(body)).await?;
    assert_eq!(status, StatusCode::CREATED);

    // What cannot be given cannot be taken either.
    let moderator = app
        .create_user("mod@example.com", vec![seeded_role_id(MODERATOR)])
        .await?;
    let revoke = format!(
        "/api/v1/users/{moderator}/roles/{}",
        seeded_role_id(MODERATOR)
    );
    let (status, _) = send(app, Method::DELETE, &revoke, &del, None).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(app, Method::DELETE, &revoke, &root, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let unknown = json!({"role_id": uuid::Uuid::now_v7()});
    let (status, problem) = send(app, Method::POST, &ada_roles, &root, Some(unknown)).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["errors"][0]["field"], "role_id");
    let nobody = format!("/api/v1/users/{}/roles", uuid::Uuid::now_v7());
    let body = json!({"role_id": seeded_role_id(MODERATOR)});
    let (status, _) = send(app, Method::POST, &nobody, &root, Some(body)).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

async fn an_assignment_that_has_run_out_grants_nothing(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (root_id, root) = admin(app, "root@example.com").await?;
    let ada = app.create_user("ada@example.com", vec![]).await?;
    let ada_token = app.token_of("ada@example.com").await?;
    let path = format!("/api/v1/users/{ada}/roles");

    let past = json!({"role_id": seeded_role_id(MODERATOR), "expires_at": Utc::now() - TimeDelta::seconds(1)});
    let (status, problem) = send(app, Method::POST, &path, &root, Some(past)).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["errors"][0]["field"], "expires_at");

    // Long enough to be seen held first on a loaded machine (expiry is to the second).
    let soon = Utc::now() + TimeDelta::seconds(5);
    let body = json!({"role_id": seeded_role_id(MODERATOR), "expires_at": soon});
    let (status, assigned) = send(app, Method::POST, &path, &root, Some(body)).await?;
    assert_eq!(status, StatusCode::CREATED, "{assigned}");
    assert!(assigned["assignment"]["expires_at"].is_string());
    assert!(
        permissions_of(app, &ada_token)
            .await?
            .contains(&"users:list".to_owned())
    );
    let someone_else = format!("/api/v1/users/{root_id}");
    assert_eq!(
        send(app, Method::GET, &someone_else, &ada_token, None)
            .await?
            .0,
        StatusCode::OK
    );

    eventually("the assignment runs out", || async {
        Ok((!permissions_of(app, &ada_token)
            .await?
            .contains(&"users:list".to_owned()))
        .then_some(()))
    })
    .await?;
    assert_eq!(
        send(app, Method::GET, &someone_else, &ada_token, None)
            .await?
            .0,
        StatusCode::FORBIDDEN
    );
    let (_, roles) = send(app, Method::GET, &path, &ada_token, None).await?;
    let held: Vec<&str> = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(held, ["USER"]);
    Ok(())
}

on_both_systems!(
    nobody_hands_out_more_than_they_hold,
    an_assignment_that_has_run_out_grants_nothing,
);
