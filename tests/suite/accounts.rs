//! Identity use cases whose endpoints belong to other features (account status), checked
//! through the guard every endpoint goes through.

use axum::http::{HeaderMap, HeaderValue, header};
use functions::auth::guard::Authenticator;
use infra::compose::Backend;
use infra::config::LocalConfig;
use shared::accounts::register::NewAccount;
use shared::accounts::{AccountError, ClientInfo};
use shared::auth::keys::KeySet;
use shared::auth::password::Password;
use shared::clock::OsRandom;
use shared::users::{Email, Name, UserStatus};

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn disabling_an_account_stops_its_tokens_sessions_and_logins_at_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = Backend::local(LocalConfig::new(dir.path(), "http://127.0.0.1:3000")).await?;
    let secrets = backend.secrets()?;
    KeySet::load_or_create(
        secrets.as_ref(),
        backend.signing_keys_secret(),
        backend.clock().now(),
        &OsRandom,
    )
    .await?;
    shared::rbac::seed::seed(backend.store()?.as_ref(), backend.clock().now()).await?;
    let accounts = backend.accounts()?;
    let issuer = backend.token_issuer()?;
    let guard = Authenticator::from_backend(&backend)?;
    let user = accounts
        .create(NewAccount {
            email: Email::parse("eve@example.com")?,
            name: Name::parse("Eve")?,
            phone: None,
            password: Password::parse(PASSWORD.into())?,
            verified: true,
            extra_roles: Vec::new(),
        })
        .await?;
    let client = ClientInfo::default();
    let signed_in = accounts
        .login(&issuer, "eve@example.com", PASSWORD, &client)
        .await?;
    let mut headers = HeaderMap::new();
    let bearer = format!("Bearer {}", signed_in.access.token);
    headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&bearer)?);
    assert!(guard.authenticate(&headers).await.is_ok());

    let disabled = accounts.set_status(&user, UserStatus::Disabled).await?;
    assert_eq!(disabled.token_version, user.token_version + 1);

    let refused = guard.authenticate(&headers).await.map(|c| c.user.id);
    assert_eq!(
        refused.map_err(|e| e.status().as_u16()).err(),
        Some(401),
        "a disabled account's access token still works"
    );
    let refresh = accounts.refresh(&issuer, signed_in.refresh.expose()).await;
    assert!(
        matches!(refresh, Err(AccountError::InvalidRefreshToken)),
        "{refresh:?}"
    );
    let login = accounts
        .login(&issuer, "eve@example.com", PASSWORD, &client)
        .await;
    assert!(
        matches!(login, Err(AccountError::AccountDisabled)),
        "{login:?}"
    );
    let wrong = accounts
        .login(&issuer, "eve@example.com", "not the password", &client)
        .await;
    assert!(
        matches!(wrong, Err(AccountError::InvalidCredentials)),
        "{wrong:?}"
    );

    let enabled = accounts.set_status(&disabled, UserStatus::Active).await?;
    assert_eq!(enabled.token_version, disabled.token_version);
    assert!(
        accounts
            .login(&issuer, "eve@example.com", PASSWORD, &client)
            .await
            .is_ok()
    );
    Ok(())
}
