//! Identity use cases whose endpoints belong to other features (account status), checked
//! through the guard every endpoint goes through.

use axum::http::{HeaderMap, HeaderValue, header};
use functions::wiring::authenticator;
use infra::compose::Backend as _;
use shared::accounts::{AccountError, ClientInfo};
use shared::users::UserStatus;
use tests::local::{identity_backend, new_account};

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn disabling_an_account_stops_its_tokens_sessions_and_logins_at_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = identity_backend(dir.path()).await?;
    let accounts = backend.accounts()?;
    let issuer = backend.token_issuer()?;
    let guard = authenticator(&backend)?;
    let user = accounts
        .create(new_account("eve@example.com", PASSWORD, true)?)
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

#[tokio::test]
async fn a_login_stores_the_password_hashed_anew_when_the_parameters_changed() -> anyhow::Result<()>
{
    use shared::users::repo::update_write;
    use shared::users::{PasswordHash, User, UserRepo};

    // The same password hashed at a lower cost, as an older release would have stored it.
    const WEAK: &str = "$argon2id$v=19$m=4096,t=1,p=1$Tmy0iKqsPMfkypL2QDYx5A$EaqPdP15frgcKmZjkNFdKMNs0pvCGOcqPa/pC0zdscY";
    let dir = tempfile::tempdir()?;
    let backend = identity_backend(dir.path()).await?;
    let accounts = backend.accounts()?;
    let user = accounts
        .create(new_account("old@example.com", PASSWORD, true)?)
        .await?;
    let weak = User {
        password_hash: PasswordHash(WEAK.into()),
        ..user.clone()
    };
    let store = backend.store()?;
    store.transact(vec![update_write(&user, &weak)?.0]).await?;

    accounts
        .login(
            &backend.token_issuer()?,
            "old@example.com",
            PASSWORD,
            &ClientInfo::default(),
        )
        .await?;
    let stored = UserRepo::new(store)
        .get(user.id)
        .await?
        .map(|u| u.password_hash.0);
    let stored = stored.expect("the user is still stored");
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    // And it is still the same password.
    accounts
        .login(
            &backend.token_issuer()?,
            "old@example.com",
            PASSWORD,
            &ClientInfo::default(),
        )
        .await?;
    Ok(())
}
