//! Roles and permissions created, read, renamed, regranted and deleted; names follow their
//! rules and stay unique; seeded ones stay; a deleted permission leaves every grant.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::rbac::model::{seeded_permission_id, seeded_role_id};
use shared::rbac::seed::{ADMIN, MODERATOR};

use super::{admin, permissions_of, send};
use crate::auth::{AuthSystem, on_both_systems};
use crate::conformance::eventually;

fn names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect()
}

async fn a_role_is_created_renamed_regranted_and_deleted(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (_, token) = admin(app, "root@example.com").await?;
    let users_read = seeded_permission_id("users:read");
    let users_list = seeded_permission_id("users:list");
    let body =
        json!({"name": "SUPPORT", "description": "Helps users", "permission_ids": [users_read]});
    let (status, created) = send(app, Method::POST, "/api/v1/roles", &token, Some(body)).await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let role = &created["role"];
    assert_eq!(role["name"], "SUPPORT");
    assert_eq!(role["permissions"][0]["name"], "users:read");
    let path = format!("/api/v1/roles/{}", role["id"].as_str().unwrap());

    let (status, list) = send(app, Method::GET, "/api/v1/roles", &token, None).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&list), ["ADMIN", "MODERATOR", "SUPPORT", "USER"]);

    let rename = json!({"name": "HELPDESK"});
    let (status, renamed) = send(app, Method::PATCH, &path, &token, Some(rename)).await?;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["role"]["name"], "HELPDESK");
    // The old name is free again, the new one taken.
    let reuse = json!({"name": "SUPPORT"});
    let (status, _) = send(app, Method::POST, "/api/v1/roles", &token, Some(reuse)).await?;
    assert_eq!(status, StatusCode::CREATED);
    let taken = json!({"name": "HELPDESK"});
    let (status, problem) = send(app, Method::POST, "/api/v1/roles", &token, Some(taken)).await?;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["code"], "name_taken");

    let grants = json!({"permission_ids": [users_read, users_list]});
    let put = format!("{path}/permissions");
    let (status, regranted) = send(app, Method::PUT, &put, &token, Some(grants)).await?;
    assert_eq!(status, StatusCode::OK, "{regranted}");
    assert_eq!(
        regranted["role"]["permissions"].as_array().unwrap().len(),
        2
    );
    let unknown = json!({"permission_ids": [uuid::Uuid::now_v7()]});
    let (status, problem) = send(app, Method::PUT, &put, &token, Some(unknown)).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["errors"][0]["field"], "permission_ids");

    let (status, _) = send(app, Method::DELETE, &path, &token, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(app, Method::GET, &path, &token, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

async fn names_follow_their_rules_and_seeded_entries_stay(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (_, token) = admin(app, "root@example.com").await?;
    for bad in ["support", "S", "2FA", "HELP-DESK"] {
        let (status, problem) = send(
            app,
            Method::POST,
            "/api/v1/roles",
            &token,
            Some(json!({"name": bad})),
        )
        .await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(problem["errors"][0]["field"], "name", "{bad}");
    }
    for bad in ["reports", "Reports:read", "reports:read:all", "reports:"] {
        let (status, _) = send(
            app,
            Method::POST,
            "/api/v1/permissions",
            &token,
            Some(json!({"name": bad})),
        )
        .await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let unknown_field = json!({"name": "OK_NAME", "grants_all": true});
    let (status, _) = send(
        app,
        Method::POST,
        "/api/v1/roles",
        &token,
        Some(unknown_field),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    for seeded in [seeded_role_id(ADMIN), seeded_role_id(MODERATOR)] {
        let path = format!("/api/v1/roles/{seeded}");
        let (status, problem) = send(app, Method::DELETE, &path, &token, None).await?;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(problem["code"], "seeded");
        let rename = json!({"name": "RENAMED"});
        let (status, _) = send(app, Method::PATCH, &path, &token, Some(rename)).await?;
        assert_eq!(status, StatusCode::CONFLICT);
    }
    let admin_grants = format!("/api/v1/roles/{}/permissions", seeded_role_id(ADMIN));
    let none = json!({"permission_ids": []});
    let (status, problem) = send(app, Method::PUT, &admin_grants, &token, Some(none)).await?;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["code"], "grants_all");
    let users_read = format!("/api/v1/permissions/{}", seeded_permission_id("users:read"));
    let (status, _) = send(app, Method::DELETE, &users_read, &token, None).await?;
    assert_eq!(status, StatusCode::CONFLICT);
    let describe = json!({"description": "Read any account"});
    let (status, described) = send(app, Method::PATCH, &users_read, &token, Some(describe)).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(described["permission"]["description"], "Read any account");
    let (status, read) = send(app, Method::GET, &users_read, &token, None).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["permission"]["name"], "users:read");
    assert_eq!(read["permission"]["seeded"], true);
    let nowhere = format!("/api/v1/permissions/{}", uuid::Uuid::now_v7());
    let (status, _) = send(app, Method::GET, &nowhere, &token, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    Ok(())
}

async fn a_new_permission_reaches_its_holders_and_leaves_them_when_deleted(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (_, token) = admin(app, "root@example.com").await?;
    let body = json!({"name": "reports:read", "description": "Read reports"});
    let (status, created) =
        send(app, Method::POST, "/api/v1/permissions", &token, Some(body)).await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let permission = created["permission"]["id"].as_str().unwrap().to_owned();
    let role = json!({"name": "REPORTER", "permission_ids": [permission]});
    let (_, role) = send(app, Method::POST, "/api/v1/roles", &token, Some(role)).await?;
    let role_id = role["role"]["id"].as_str().unwrap().to_owned();

    let ada = app.create_user("ada@example.com", vec![]).await?;
    let ada_token = app.token_of("ada@example.com").await?;
    assert!(
        !permissions_of(app, &ada_token)
            .await?
            .contains(&"reports:read".to_owned())
    );
    let assign = json!({"role_id": role_id});
    let path = format!("/api/v1/users/{ada}/roles");
    let (status, assigned) = send(app, Method::POST, &path, &token, Some(assign)).await?;
    assert_eq!(status, StatusCode::CREATED, "{assigned}");
    assert_eq!(assigned["assignment"]["name"], "REPORTER");
    eventually("ada holds reports:read", || async {
        Ok(permissions_of(app, &ada_token)
            .await?
            .contains(&"reports:read".to_owned())
            .then_some(()))
    })
    .await?;

    let (status, list) = send(app, Method::GET, "/api/v1/permissions", &token, None).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(names(&list).contains(&"reports:read"));
    let path = format!("/api/v1/permissions/{permission}");
    let (status, _) = send(app, Method::DELETE, &path, &token, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, role) = send(
        app,
        Method::GET,
        &format!("/api/v1/roles/{role_id}"),
        &token,
        None,
    )
    .await?;
    assert_eq!(role["role"]["permissions"], json!([]), "{role}");
    // Taken out of the stored grant, not only hidden from the view.
    let role_id: uuid::Uuid = role_id.parse()?;
    let stored = app
        .store()
        .await?
        .get(&shared::rbac::repo::role_key(role_id))
        .await?
        .unwrap();
    let stored: shared::rbac::Role = stored.record()?;
    assert!(stored.permission_ids.is_empty(), "{stored:?}");
    eventually("ada no longer holds reports:read", || async {
        Ok((!permissions_of(app, &ada_token)
            .await?
            .contains(&"reports:read".to_owned()))
        .then_some(()))
    })
    .await?;
    Ok(())
}

on_both_systems!(
    a_role_is_created_renamed_regranted_and_deleted,
    names_follow_their_rules_and_seeded_entries_stay,
    a_new_permission_reaches_its_holders_and_leaves_them_when_deleted,
);
