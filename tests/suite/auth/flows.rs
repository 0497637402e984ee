//! Every auth flow, as a client goes through it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{AuthSystem, PASSWORD, bearer, on_both_systems, refresh_token, without_request_id};

async fn a_new_account_verifies_its_address_then_logs_in_and_sees_its_profile(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let registered = app.register(" Ada@Example.com ").await?;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let body: Value = registered.json().await?;
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["email_verified"], false);
    assert!(body["user"].get("password_hash").is_none(), "{body}");

    // The right password on an unverified account says so; nothing else does.
    let early = app.login("ada@example.com", PASSWORD).await?;
    assert_eq!(early.status(), StatusCode::FORBIDDEN);
    assert_eq!(early.json::<Value>().await?["code"], "email_not_verified");

    let again = app.register("ada@example.com").await?;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(again.json::<Value>().await?["code"], "email_taken");

    let token = app
        .mailed_token("ada@example.com", "verify-email", 0)
        .await?;
    let verified = app.post("/verify-email", json!({"token": token})).await?;
    assert_eq!(verified.status(), StatusCode::OK);
    let used = app.post("/verify-email", json!({"token": token})).await?;
    assert_eq!(used.status(), StatusCode::BAD_REQUEST);
    assert_eq!(used.json::<Value>().await?["code"], "invalid_token");

    let login: Value = app.login("ADA@example.com", PASSWORD).await?.json().await?;
    assert_eq!(login["token_type"], "Bearer");
    assert!(
        login["expires_in"]
            .as_i64()
            .is_some_and(|s| s > 0 && s <= 900),
        "{login}"
    );
    let profile = app
        .call(
            Method::GET,
            "/api/v1/auth/profile",
            Some(&bearer(&login)),
            None,
        )
        .await?;
    assert_eq!(profile.status(), StatusCode::OK);
    let profile: Value = profile.json().await?;
    assert_eq!(profile["user"]["email_verified"], true);
    assert_eq!(profile["roles"][0]["name"], "USER");
    assert_eq!(profile["permissions"], json!([]));

    let sessions: Value = app
        .call(
            Method::GET,
            "/api/v1/auth/sessions",
            Some(&bearer(&login)),
            None,
        )
        .await?
        .json()
        .await?;
    assert_eq!(sessions["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(sessions["items"][0]["current"], true);
    Ok(())
}

async fn a_refresh_token_rotates_and_its_reuse_ends_the_whole_family(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let login = app.signed_up("grace@example.com").await?;
    let first = refresh_token(&login);

    let refreshed = app
        .post("/refresh", json!({"refresh_token": first}))
        .await?;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let second = refresh_token(&refreshed.json().await?);
    assert_ne!(first, second);

    let reused = app
        .post("/refresh", json!({"refresh_token": first}))
        .await?;
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
    // The thief's replay ended the session, so the legitimate successor is dead too.
    let successor = app
        .post("/refresh", json!({"refresh_token": second}))
        .await?;
    assert_eq!(successor.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

async fn logout_ends_the_session_and_logout_all_stops_access_tokens_at_once(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let first = app.signed_up("linus@example.com").await?;
    let second: Value = app
        .login("linus@example.com", PASSWORD)
        .await?
        .json()
        .await?;

    let logout = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&bearer(&first)),
            None,
        )
        .await?;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let dead = app
        .post("/refresh", json!({"refresh_token": refresh_token(&first)}))
        .await?;
    assert_eq!(dead.status(), StatusCode::UNAUTHORIZED);
    // The ended session's access token stops at once; the other session's goes on.
    assert_eq!(
        app.profile(&bearer(&first)).await?,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.profile(&bearer(&second)).await?, StatusCode::OK);
    let all = app
        .call(
            Method::POST,
            "/api/v1/auth/logout-all",
            Some(&bearer(&second)),
            None,
        )
        .await?;
    assert_eq!(all.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.profile(&bearer(&second)).await?,
        StatusCode::UNAUTHORIZED
    );
    let refresh = app
        .post("/refresh", json!({"refresh_token": refresh_token(&second)}))
        .await?;
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

async fn a_password_reset_ends_every_session_and_its_token_works_once(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let login = app.signed_up("barbara@example.com").await?;

    for email in ["barbara@example.com", "nobody@example.com"] {
        let asked = app.post("/reset-password", json!({"email": email})).await?;
        assert_eq!(asked.status(), StatusCode::ACCEPTED);
    }
    let token = app
        .mailed_token("barbara@example.com", "reset-password", 0)
        .await?;
    let weak = app
        .post(
            "/confirm-reset",
            json!({"token": token, "new_password": "password123"}),
        )
        .await?;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        weak.json::<Value>().await?["errors"][0]["field"],
        "new_password"
    );

    let new_password = "a brand new passphrase";
    let reset = app
        .post(
            "/confirm-reset",
            json!({"token": token, "new_password": new_password}),
        )
        .await?;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let reused = app
        .post(
            "/confirm-reset",
            json!({"token": token, "new_password": "yet another passphrase"}),
        )
        .await?;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);

    assert_eq!(
        app.profile(&bearer(&login)).await?,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("barbara@example.com", PASSWORD).await?.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("barbara@example.com", new_password)
            .await?
            .status(),
        StatusCode::OK
    );
    Ok(())
}

async fn change_password_keeps_this_session_and_ends_the_others(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let this = app.signed_up("edsger@example.com").await?;
    let other: Value = app
        .login("edsger@example.com", PASSWORD)
        .await?
        .json()
        .await?;
    let change = |current: &str| json!({"current_password": current, "new_password": "goto considered harmful"});
    let wrong = app
        .call(
            Method::PUT,
            "/api/v1/auth/change-password",
            Some(&bearer(&this)),
            Some(change("not it at all")),
        )
        .await?;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let changed = app
        .call(
            Method::PUT,
            "/api/v1/auth/change-password",
            Some(&bearer(&this)),
            Some(change(PASSWORD)),
        )
        .await?;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);

    let mine = app
        .post("/refresh", json!({"refresh_token": refresh_token(&this)}))
        .await?;
    assert_eq!(mine.status(), StatusCode::OK);
    let theirs = app
        .post("/refresh", json!({"refresh_token": refresh_token(&other)}))
        .await?;
    assert_eq!(theirs.status(), StatusCode::UNAUTHORIZED);
    app.mailed_token("edsger@example.com", "verify-email", 0)
        .await?;
    Ok(())
}

async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    app.signed_up("ken@example.com").await?;
    let wrong = app.login("ken@example.com", "not the password").await?;
    let unknown = app.login("dennis@example.com", "not the password").await?;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), unknown.status());
    let (wrong, unknown): (Value, Value) = (wrong.json().await?, unknown.json().await?);
    assert_eq!(wrong["code"], "invalid_credentials");
    assert_eq!(without_request_id(wrong), without_request_id(unknown));
    Ok(())
}

async fn registration_names_every_invalid_field(app: &impl AuthSystem) -> anyhow::Result<()> {
    let body = json!({"email": "not an address", "name": " ", "password": "password1", "phone": "call me"});
    let response = app.post("/register", body).await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await?;
    assert_eq!(body["code"], "validation_failed");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .expect("a list of errors");
    assert_eq!(fields, ["email", "name", "phone", "password"], "{body}");
    Ok(())
}

async fn the_eleventh_failed_login_of_an_account_is_throttled(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    app.signed_up("alan@example.com").await?;
    for _ in 0..10 {
        let failed = app.login("alan@example.com", "not the password").await?;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = app.login("alan@example.com", PASSWORD).await?;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(limited.json::<Value>().await?["code"], "rate_limited");
    Ok(())
}

async fn parallel_wrong_passwords_reach_the_hash_no_more_than_the_account_limit(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    use shared::auth::throttle::LOGIN_FAILURES_PER_ACCOUNT;

    app.signed_up("linus@example.com").await?;
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let request = app
            .client()
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": "linus@example.com", "password": "not the password"}));
        running.spawn(async move { anyhow::Ok(request.send().await?.status()) });
    }
    let (mut refused, mut limited) = (0, 0);
    while let Some(status) = running.join_next().await {
        match status?? {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => anyhow::bail!("a wrong password answered {other}"),
        }
    }
    assert!(
        (1..=LOGIN_FAILURES_PER_ACCOUNT.limit).contains(&refused),
        "{refused} of 50 parallel guesses were checked, {limited} refused as too many"
    );
    assert_eq!(refused + limited, 50);
    let right = app.login("linus@example.com", PASSWORD).await?;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}

async fn malformed_addresses_count_against_the_client_like_any_login(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    use shared::auth::throttle::LOGINS_PER_IP;

    for _ in 0..LOGINS_PER_IP.limit {
        let refused = app.login("not an address", "whatever it is").await?;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            refused.json::<Value>().await?["code"],
            "invalid_credentials"
        );
    }
    let limited = app.login("not an address", "whatever it is").await?;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}

async fn a_successful_login_clears_the_accounts_failures(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    use shared::auth::throttle::LOGIN_FAILURES_PER_ACCOUNT;

    app.signed_up("ken@example.com").await?;
    for round in 0..2 {
        for _ in 0..LOGIN_FAILURES_PER_ACCOUNT.limit - 1 {
            let failed = app.login("ken@example.com", "not the password").await?;
            assert_eq!(failed.status(), StatusCode::UNAUTHORIZED, "round {round}");
        }
        let login = app.login("ken@example.com", PASSWORD).await?;
        assert_eq!(login.status(), StatusCode::OK, "round {round}");
    }
    Ok(())
}

async fn guessing_the_current_password_is_throttled_and_ends_the_session(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    use shared::auth::throttle::LOGIN_FAILURES_PER_ACCOUNT;

    let login = app.signed_up("mallory@example.com").await?;
    let token = bearer(&login);
    let guess = |n: i64| json!({"current_password": format!("guess number {n}"), "new_password": "a fresh passphrase"});
    for n in 0..LOGIN_FAILURES_PER_ACCOUNT.limit {
        let wrong = app
            .call(
                Method::PUT,
                "/api/v1/auth/change-password",
                Some(&token),
                Some(guess(n)),
            )
            .await?;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST, "guess {n}");
    }
    let limited = app
        .call(
            Method::PUT,
            "/api/v1/auth/change-password",
            Some(&token),
            Some(guess(LOGIN_FAILURES_PER_ACCOUNT.limit)),
        )
        .await?;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    // The token's holder guessed too often: its session is over, and the account is locked
    // for logins as well until the window ends.
    assert_eq!(app.profile(&token).await?, StatusCode::UNAUTHORIZED);
    let right = app.login("mallory@example.com", PASSWORD).await?;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}

async fn using_one_reset_token_voids_the_others_and_so_does_a_password_change(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let email = "edsger@example.com";
    app.signed_up(email).await?;
    let ask = async || -> anyhow::Result<()> {
        let asked = app.post("/reset-password", json!({"email": email})).await?;
        assert_eq!(asked.status(), StatusCode::ACCEPTED);
        Ok(())
    };
    ask().await?;
    let first = app.mailed_token(email, "reset-password", 0).await?;
    ask().await?;
    let second = app.mailed_token(email, "reset-password", 1).await?;
    assert_ne!(first, second);
    let confirm = async |token: &str, password: &str| {
        app.post(
            "/confirm-reset",
            json!({"token": token, "new_password": password}),
        )
        .await
    };
    let renewed = "a renewed passphrase";
    assert_eq!(
        confirm(&second, renewed).await?.status(),
        StatusCode::NO_CONTENT
    );
    let stale = confirm(&first, "an older mail's passphrase").await?;
    assert_eq!(stale.status(), StatusCode::BAD_REQUEST);
    assert_eq!(stale.json::<Value>().await?["code"], "invalid_token");

    // A token asked for before a password change is void after it.
    ask().await?;
    let pending = app.mailed_token(email, "reset-password", 2).await?;
    let login: Value = app.login(email, renewed).await?.json().await?;
    let changed = app
        .call(
            Method::PUT,
            "/api/v1/auth/change-password",
            Some(&bearer(&login)),
            Some(
                json!({"current_password": renewed, "new_password": "changed while a mail waited"}),
            ),
        )
        .await?;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let void = confirm(&pending, "the waiting mail's passphrase").await?;
    assert_eq!(void.status(), StatusCode::BAD_REQUEST);
    Ok(())
}

async fn a_login_beyond_the_session_limit_ends_the_least_recently_used_session(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    use shared::accounts::login::MAX_SESSIONS;

    // signed_up logs in once: the first session, never used again.
    let first = app.signed_up("barbara@example.com").await?;
    let mut last = Value::Null;
    for _ in 0..MAX_SESSIONS {
        let login = app.login("barbara@example.com", PASSWORD).await?;
        assert_eq!(login.status(), StatusCode::OK);
        last = login.json().await?;
    }
    let sessions: Value = app
        .call(
            Method::GET,
            "/api/v1/auth/sessions",
            Some(&bearer(&last)),
            None,
        )
        .await?
        .json()
        .await?;
    assert_eq!(
        sessions["items"].as_array().map(Vec::len),
        Some(MAX_SESSIONS),
        "{sessions}"
    );
    let ended = app
        .post("/refresh", json!({"refresh_token": refresh_token(&first)}))
        .await?;
    assert_eq!(ended.status(), StatusCode::UNAUTHORIZED);
    let profile = app
        .call(
            Method::GET,
            "/api/v1/auth/profile",
            Some(&bearer(&first)),
            None,
        )
        .await?;
    assert_eq!(profile.status(), StatusCode::UNAUTHORIZED);
    let kept = app
        .post("/refresh", json!({"refresh_token": refresh_token(&last)}))
        .await?;
    assert_eq!(kept.status(), StatusCode::OK);
    Ok(())
}

on_both_systems!(
    a_login_beyond_the_session_limit_ends_the_least_recently_used_session,
    a_new_account_verifies_its_address_then_logs_in_and_sees_its_profile,
    a_refresh_token_rotates_and_its_reuse_ends_the_whole_family,
    logout_ends_the_session_and_logout_all_stops_access_tokens_at_once,
    a_password_reset_ends_every_session_and_its_token_works_once,
    change_password_keeps_this_session_and_ends_the_others,
    a_wrong_password_and_an_unknown_email_get_the_same_answer,
    the_eleventh_failed_login_of_an_account_is_throttled,
    parallel_wrong_passwords_reach_the_hash_no_more_than_the_account_limit,
    malformed_addresses_count_against_the_client_like_any_login,
    a_successful_login_clears_the_accounts_failures,
    guessing_the_current_password_is_throttled_and_ends_the_session,
    using_one_reset_token_voids_the_others_and_so_does_a_password_change,
    registration_names_every_invalid_field,
);
