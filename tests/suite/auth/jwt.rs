//! Forged and misdirected access tokens over HTTP: the guard accepts only an EdDSA token signed
//! by one of the system's own keys, for its issuer and its audience.
//!
//! Each case starts from a genuine token of a signed-up user and shows first that a token
//! minted the same way with the system's key is accepted, so a refusal is the forgery's doing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use infra::compose::ACCESS_TOKEN_TTL;
use jsonwebtoken::{Algorithm, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::auth::access_token::{AccessTokens, Claims, TOKEN_TYPE};
use shared::auth::keys::KeySet;
use shared::clock::OsRandom;

use super::{AuthSystem, bearer, on_both_systems};

/// A genuine access token, what it says, and the key set that signed it.
struct Genuine {
    token: String,
    kid: String,
    claims: Claims,
    keys: KeySet,
}

async fn genuine(app: &impl AuthSystem, email: &str) -> anyhow::Result<Genuine> {
    let token = bearer(&app.signed_up(email).await?);
    let header: Value = segment(&token, 0)?;
    let kid = header["kid"]
        .as_str()
        .expect("the header names its key")
        .to_owned();
    let claims: Claims = segment(&token, 1)?;
    let genuine = Genuine {
        token,
        kid,
        claims,
        keys: app.signing_keys().await?,
    };
    assert_eq!(app.profile(&genuine.token).await?, StatusCode::OK);
    // The system accepts what is minted here with its own key, issuer and audience.
    let remade = genuine.reissue(&genuine.keys, &genuine.claims.iss, &genuine.claims.aud)?;
    assert_eq!(app.profile(&remade).await?, StatusCode::OK);
    Ok(genuine)
}

impl Genuine {
    /// A token for the same user and session, signed by the current key of `keys`.
    fn reissue(&self, keys: &KeySet, issuer: &str, audience: &str) -> anyhow::Result<String> {
        let tokens = AccessTokens::new(issuer, audience, ACCESS_TOKEN_TTL)?;
        let issued = tokens.issue(
            keys,
            &self.claims.sub,
            &self.claims.sid,
            self.claims.ver,
            Utc::now(),
            uuid::Uuid::new_v4(),
        )?;
        Ok(issued.token)
    }

    /// The genuine payload under another header and signature.
    fn with_header(&self, header: &Value, signature: &str) -> String {
        let payload = self.token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(header.to_string());
        format!("{header}.{payload}.{signature}")
    }
}

/// The decoded JSON of a token's `index`th segment.
fn segment<T: serde::de::DeserializeOwned>(token: &str, index: usize) -> anyhow::Result<T> {
    let encoded = token.split('.').nth(index).unwrap();
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded)?)?)
}

async fn a_token_for_another_issuer_or_audience_is_refused_though_our_key_signed_it(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let genuine = genuine(app, "aud@example.com").await?;
    let (iss, aud) = (&genuine.claims.iss, &genuine.claims.aud);
    for (issuer, audience) in [
        ("https://elsewhere.example.com", aud.as_str()),
        (iss.as_str(), "another-api"),
    ] {
        let token = genuine.reissue(&genuine.keys, issuer, audience)?;
        assert_eq!(
            app.profile(&token).await?,
            StatusCode::UNAUTHORIZED,
            "iss {issuer}, aud {audience}"
        );
    }
    Ok(())
}

async fn an_unsigned_token_with_a_genuine_payload_is_refused(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let genuine = genuine(app, "none@example.com").await?;
    let signature = genuine.token.split('.').nth(2).unwrap();
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": TOKEN_TYPE, "kid": genuine.kid});
        for signature in ["", signature] {
            let token = genuine.with_header(&header, signature);
            assert_eq!(
                app.profile(&token).await?,
                StatusCode::UNAUTHORIZED,
                "alg {alg}, signature {signature:?}"
            );
        }
    }
    Ok(())
}

async fn a_token_signed_with_hs256_over_the_published_public_key_is_refused(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let genuine = genuine(app, "hs256@example.com").await?;
    let jwks: Value = app
        .client()
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let x = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == genuine.kid.as_str())
        .and_then(|k| k["x"].as_str())
        .map(str::to_owned);
    let Some(x) = x else {
        panic!("the key {} is not published: {jwks}", genuine.kid)
    };
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(TOKEN_TYPE.to_owned());
    header.kid = Some(genuine.kid.clone());
    // The public key as its raw bytes, and as the text a verifier might hand to HMAC.
    for secret in [URL_SAFE_NO_PAD.decode(&x)?, x.into_bytes()] {
        let token = hs256(&header, &genuine.claims, &secret)?;
        assert_eq!(app.profile(&token).await?, StatusCode::UNAUTHORIZED);
    }
    Ok(())
}

/// A JWT MACed with HS256 under `secret`, written by hand: the system's crypto provider signs
/// EdDSA only, which is part of what this forgery tests.
fn hs256(header: &Header, claims: &Claims, secret: &[u8]) -> anyhow::Result<String> {
    use hmac::{Hmac, Mac};
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret)?;
    mac.update(signed.as_bytes());
    Ok(format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    ))
}

async fn a_token_signed_by_a_key_the_system_does_not_hold_is_refused(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let genuine = genuine(app, "kid@example.com").await?;
    let (iss, aud) = (&genuine.claims.iss, &genuine.claims.aud);
    let mut foreign = KeySet::generate(Utc::now(), &OsRandom);
    let unknown_kid = genuine.reissue(&foreign, iss, aud)?;
    assert_eq!(app.profile(&unknown_kid).await?, StatusCode::UNAUTHORIZED);
    // The same foreign key claiming to be ours: the signature gives it away.
    for key in &mut foreign.keys {
        key.kid.clone_from(&genuine.kid);
    }
    let borrowed_kid = genuine.reissue(&foreign, iss, aud)?;
    assert_eq!(app.profile(&borrowed_kid).await?, StatusCode::UNAUTHORIZED);
    Ok(())
}

on_both_systems!(
    a_token_for_another_issuer_or_audience_is_refused_though_our_key_signed_it,
    an_unsigned_token_with_a_genuine_payload_is_refused,
    a_token_signed_with_hs256_over_the_published_public_key_is_refused,
    a_token_signed_by_a_key_the_system_does_not_hold_is_refused,
);
