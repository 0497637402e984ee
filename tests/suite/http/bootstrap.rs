//! The local system's bootstrap administrator.

use local_system::options::BootstrapAdmin;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::auth::password::Password;
use shared::users::Email;
use tests::app::spawn_app_with;

#[tokio::test]
async fn the_bootstrap_administrator_exists_once_and_holds_every_permission() -> anyhow::Result<()>
{
    let admin = BootstrapAdmin {
        email: Email::parse("root@example.com")?,
        password: Password::parse("an admin passphrase".into())?,
    };
    let app = spawn_app_with(|options| local_system::Options {
        bootstrap_admin: Some(admin),
        ..options
    })
    .await?;
    // A restart finds the administrator there and changes nothing.
    let app = app.restart().await?;

    let login = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "root@example.com", "password": "an admin passphrase"}),
        )
        .await?;
    assert_eq!(login.status(), StatusCode::OK);
    let login: Value = login.json().await?;
    let token = login["access_token"].as_str().unwrap();
    let profile: Value = app
        .client
        .get(app.url("/api/v1/auth/profile"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let roles: Vec<&str> = profile["roles"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap();
    assert_eq!(roles, ["ADMIN", "USER"], "{profile}");
    let permissions = profile["permissions"].as_array().map(Vec::len).unwrap();
    assert_eq!(
        permissions,
        shared::rbac::seed::PERMISSIONS.len(),
        "{profile}"
    );
    app.stop().await
}
