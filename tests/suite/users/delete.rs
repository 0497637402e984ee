//! `DELETE /api/v1/users/{id}`: the account and everything keyed to it go, its address is free
//! again, and nothing of it keeps working.

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::rbac::model::seeded_role_id;
use shared::rbac::seed::MODERATOR;
use shared::store::Query;
use shared::users::repo::user_partition;

use crate::auth::{AuthSystem, PASSWORD, bearer, on_both_systems, refresh_token};
use crate::conformance::eventually;
use crate::rbac::{admin, send};

async fn a_deleted_account_stops_working_frees_its_address_and_leaves_nothing(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (_, root) = admin(app, "root@example.com").await?;
    let ada = app
        .create_user("ada@example.com", vec![seeded_role_id(MODERATOR)])
        .await?;
    let login = app.login("ada@example.com", PASSWORD).await?;
    let login: serde_json::Value = login.json().await?;
    let (access, refresh) = (bearer(&login), refresh_token(&login));
    // A pending reset token, minted when its mail goes out.
    let reset = app
        .post("/reset-password", json!({"email": "ada@example.com"}))
        .await?;
    assert_eq!(reset.status(), StatusCode::ACCEPTED);
    let reset_token = app
        .mailed_token("ada@example.com", "reset-password", 0)
        .await?;

    let path = format!("/api/v1/users/{ada}");
    let (status, _) = send(app, Method::DELETE, &path, &root, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);

    assert_eq!(app.profile(&access).await?, StatusCode::UNAUTHORIZED);
    let refreshed = app
        .post("/refresh", json!({"refresh_token": refresh}))
        .await?;
    assert_eq!(refreshed.status(), StatusCode::UNAUTHORIZED);
    let confirm = json!({"token": reset_token, "new_password": "a brand new passphrase"});
    let confirmed = app.post("/confirm-reset", confirm).await?;
    assert_eq!(confirmed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await?.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = send(app, Method::GET, &path, &root, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(app, Method::DELETE, &path, &root, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Nothing is left in the account's partition once the erase_user job has run.
    let store = app.store().await?;
    eventually("the account's partition is empty", || async {
        app.step_background().await?;
        let page = store.query(Query::partition(user_partition(ada))).await?;
        Ok(page.items.is_empty().then_some(()))
    })
    .await?;

    assert_eq!(
        app.register("ada@example.com").await?.status(),
        StatusCode::CREATED
    );
    Ok(())
}

async fn only_users_delete_deletes_and_the_last_administrator_stays(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let (root_id, root) = admin(app, "root@example.com").await?;
    let moderator = app
        .create_user("mod@example.com", vec![seeded_role_id(MODERATOR)])
        .await?;
    let ada = app.create_user("ada@example.com", vec![]).await?;
    let mod_token = app.token_of("mod@example.com").await?;
    let ada_token = app.token_of("ada@example.com").await?;

    for (token, target) in [
        (&mod_token, ada),
        (&ada_token, ada),
        (&ada_token, moderator),
    ] {
        let path = format!("/api/v1/users/{target}");
        let (status, _) = send(app, Method::DELETE, &path, token, None).await?;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, problem) = send(
        app,
        Method::DELETE,
        &format!("/api/v1/users/{root_id}"),
        &root,
        None,
    )
    .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "last_admin");
    Ok(())
}

on_both_systems!(
    a_deleted_account_stops_working_frees_its_address_and_leaves_nothing,
    only_users_delete_deletes_and_the_last_administrator_stays,
);
