//! Access tokens against forgery, confusion, time and key rotation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::clock::OsRandom;

const ISSUER: &str = "https://id.example.test";
const AUDIENCE: &str = "api.example.test";
const USER: &str = "user-1";
const SESSION: &str = "session-1";

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn tokens() -> AccessTokens {
    AccessTokens::new(ISSUER, AUDIENCE, TimeDelta::minutes(10)).unwrap_or_else(|e| panic!("{e}"))
}

fn issue(tokens: &AccessTokens, keys: &KeySet, now: DateTime<Utc>) -> IssuedToken {
    tokens
        .issue(keys, USER, SESSION, 7, now, Uuid::now_v7())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// A JWT MACed with HS256 under `secret`, written by hand: the provider we install signs only
/// EdDSA, which is the point of the tests that forge these.
fn hs256(header: &Header, claims: &serde_json::Value, secret: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let header = serde_json::to_value(header).unwrap();
    let signed = format!("{}.{}", b64(&header), b64(claims));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(signed.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signed}.{tag}")
}

fn claims_json(tokens: &AccessTokens, now: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "iss": tokens.issuer(), "aud": tokens.audience(), "sub": USER, "sid": SESSION, "ver": 7,
        "iat": now.timestamp(), "exp": now.timestamp() + 600, "jti": "j",
    })
}

/// Signs `claims` with `keys`' current key under a header of our choosing.
fn sign_with(keys: &KeySet, header: &Header, claims: &serde_json::Value) -> String {
    let der = keys
        .current()
        .private_pkcs8_der()
        .unwrap_or_else(|e| panic!("{e}"));
    eddsa::install();
    jsonwebtoken::encode(header, claims, &EncodingKey::from_ed_der(&der))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn our_header(keys: &KeySet) -> Header {
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(TOKEN_TYPE.to_owned());
    header.kid = Some(keys.current().kid.clone());
    header
}

/// Rejected as invalid, and for the reason the test is about.
fn assert_invalid(result: Result<Claims, TokenError>, reason: &str) {
    assert!(
        matches!(result, Err(TokenError::Invalid(r)) if r == reason),
        "expected {reason:?}, got {result:?}"
    );
}

#[test]
fn an_issued_token_verifies_and_round_trips_its_claims() {
    let (tokens, keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let jti = Uuid::now_v7();
    let issued = tokens
        .issue(&keys, USER, SESSION, 7, start(), jti)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(issued.expires_in, 600);
    let expected = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: USER.into(),
        sid: SESSION.into(),
        ver: 7,
        iat: start().timestamp(),
        exp: start().timestamp() + 600,
        jti: jti.to_string(),
    };
    assert_eq!(issued.claims, expected);
    let verified = tokens.verify(&keys, &issued.token, start() + TimeDelta::minutes(5));
    assert_eq!(verified.ok(), Some(expected));

    let header = jsonwebtoken::decode_header(&issued.token).ok();
    assert_eq!(header.as_ref().map(|h| h.alg), Some(Algorithm::EdDSA));
    assert_eq!(
        header.as_ref().and_then(|h| h.typ.as_deref()),
        Some("at+jwt")
    );
    assert_eq!(header.and_then(|h| h.kid), Some(keys.current().kid.clone()));
}

#[test]
fn an_unsigned_token_with_alg_none_is_rejected() {
    let (tokens, keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let header = serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": keys.current().kid});
    for signature in ["", "AAAA"] {
        let token = format!(
            "{}.{}.{signature}",
            b64(&header),
            b64(&claims_json(&tokens, start()))
        );
        assert_invalid(tokens.verify(&keys, &token, start()), "malformed header");
    }
}

#[test]
fn an_hmac_token_keyed_with_our_public_key_is_rejected() {
    let (tokens, keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let x = keys.current().public_x().unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&x).unwrap();
    let mut header = our_header(&keys);
    header.alg = Algorithm::HS256;
    for secret in [raw.as_slice(), x.as_bytes()] {
        let token = hs256(&header, &claims_json(&tokens, start()), secret);
        assert_invalid(
            tokens.verify(&keys, &token, start()),
            "algorithm not allowed",
        );
    }
}

#[test]
fn a_token_naming_a_key_outside_the_set_is_rejected() {
    let (tokens, keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let other = KeySet::generate(start(), &OsRandom);
    let token = issue(&tokens, &other, start()).token;
    assert_invalid(tokens.verify(&keys, &token, start()), "unknown key id");

    let mut header = our_header(&keys);
    header.kid = None;
    let token = sign_with(&keys, &header, &claims_json(&tokens, start()));
    assert_invalid(tokens.verify(&keys, &token, start()), "no key id");
}

#[test]
fn a_token_signed_by_a_foreign_key_under_our_key_id_is_rejected() {
    let (tokens, keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let other = KeySet::generate(start(), &OsRandom);
    let token = sign_with(&other, &our_header(&keys), &claims_json(&tokens, start()));
    assert_eq!(
        tokens
            .verify(&keys, &token, start())
            .err()
            .map(|e| e.to_string()),
        Some("the access token is invalid: bad signature".to_owned())
    );
}

#[test]
fn a_token_carrying_its_own_key_is_rejected_even_when_the_signature_holds() {
    let (tokens, keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let mut header = our_header(&keys);
    header.jku = Some("https://attacker.example/jwks.json".into());
    let token = sign_with(&keys, &header, &claims_json(&tokens, start()));
    assert_invalid(
        tokens.verify(&keys, &token, start()),
        "unexpected header parameter",
    );
}

#[test]
fn an_expired_token_is_expired_but_accepted_within_the_leeway() {
    let (tokens, keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let issued = issue(&tokens, &keys, start());
    let exp = DateTime::from_timestamp(issued.claims.exp, 0).unwrap();
    let within = exp + DEFAULT_LEEWAY - TimeDelta::seconds(1);
    assert!(tokens.verify(&keys, &issued.token, within).is_ok());
    assert!(matches!(
        tokens.verify(&keys, &issued.token, exp + DEFAULT_LEEWAY),
        Err(TokenError::Expired)
    ));
}

#[test]
fn a_token_issued_in_the_future_beyond_the_leeway_is_rejected() {
    let (tokens, keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let issued = issue(&tokens, &keys, start());
    let early = start() - DEFAULT_LEEWAY;
    assert!(tokens.verify(&keys, &issued.token, early).is_ok());
    assert_invalid(
        tokens.verify(&keys, &issued.token, early - TimeDelta::seconds(1)),
        "issued in the future",
    );
}

#[test]
fn a_token_for_another_audience_or_from_another_issuer_is_rejected() {
    let keys = KeySet::generate(start(), &OsRandom);
    let ours = tokens();
    let ttl = TimeDelta::minutes(10);
    let elsewhere = [
        (
            AccessTokens::new(ISSUER, "other-api", ttl),
            "wrong audience",
        ),
        (
            AccessTokens::new("https://other-issuer.test", AUDIENCE, ttl),
            "wrong issuer",
        ),
    ];
    for (theirs, reason) in elsewhere {
        let theirs = theirs.unwrap_or_else(|e| panic!("{e}"));
        let token = issue(&theirs, &keys, start()).token;
        assert!(theirs.verify(&keys, &token, start()).is_ok());
        assert_invalid(ours.verify(&keys, &token, start()), reason);
    }
    let mut claims = claims_json(&ours, start());
    claims["aud"] = serde_json::json!([AUDIENCE, "other-api"]);
    let token = sign_with(&keys, &our_header(&keys), &claims);
    assert_invalid(ours.verify(&keys, &token, start()), "malformed");
}

#[test]
fn a_token_with_a_tampered_payload_is_rejected() {
    let (tokens, keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let token = issue(&tokens, &keys, start()).token;
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["sub"], USER);
    claims["sub"] = "admin".into();
    let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_invalid(tokens.verify(&keys, &forged, start()), "bad signature");
}

#[test]
fn a_token_of_another_type_is_rejected() {
    let (tokens, keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let claims = claims_json(&tokens, start());
    assert!(
        tokens
            .verify(
                &keys,
                &sign_with(&keys, &our_header(&keys), &claims),
                start()
            )
            .is_ok()
    );
    for typ in [Some("JWT"), None] {
        let mut header = our_header(&keys);
        header.typ = typ.map(str::to_owned);
        let token = sign_with(&keys, &header, &claims);
        assert_invalid(tokens.verify(&keys, &token, start()), "not an access token");
    }
}

#[test]
fn after_rotation_old_tokens_verify_and_new_tokens_carry_the_new_key() {
    let (tokens, mut keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let old = issue(&tokens, &keys, start());
    let old_kid = keys.current().kid.clone();
    let later = start() + TimeDelta::minutes(1);
    keys.rotate(later, &OsRandom, tokens.max_token_lifetime());

    assert!(tokens.verify(&keys, &old.token, later).is_ok());
    let new = issue(&tokens, &keys, later);
    let new_kid = jsonwebtoken::decode_header(&new.token)
        .ok()
        .and_then(|h| h.kid);
    assert_eq!(new_kid.as_deref(), Some(keys.current().kid.as_str()));
    assert_ne!(new_kid, Some(old_kid));
    assert!(tokens.verify(&keys, &new.token, later).is_ok());
}

#[test]
fn once_its_key_is_dropped_an_old_token_is_rejected() {
    let (tokens, mut keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let old = issue(&tokens, &keys, start());
    keys.rotate(start(), &OsRandom, tokens.max_token_lifetime());
    assert!(tokens.verify(&keys, &old.token, start()).is_ok());

    let after = start() + tokens.max_token_lifetime();
    keys.rotate(after, &OsRandom, tokens.max_token_lifetime());
    assert_eq!(
        tokens
            .verify(&keys, &old.token, after)
            .err()
            .map(|e| e.to_string()),
        Some("the access token is invalid: unknown key id".to_owned())
    );
}

#[test]
fn a_lifetime_over_fifteen_minutes_or_not_positive_is_refused() {
    for ttl in [
        TimeDelta::minutes(15) + TimeDelta::seconds(1),
        TimeDelta::zero(),
        TimeDelta::seconds(-5),
    ] {
        assert_eq!(
            AccessTokens::new(ISSUER, AUDIENCE, ttl).err(),
            Some(TokenConfigError::Ttl(ttl))
        );
    }
    assert!(AccessTokens::new(ISSUER, AUDIENCE, MAX_TTL).is_ok());
    let leeway = TimeDelta::seconds(61);
    assert_eq!(
        tokens().with_leeway(leeway).err(),
        Some(TokenConfigError::Leeway(leeway))
    );
}

#[test]
fn debug_and_display_output_never_show_the_token() {
    let (tokens, keys) = (tokens(), KeySet::generate(start(), &OsRandom));
    let issued = issue(&tokens, &keys, start());
    assert!(!format!("{issued:?}").contains(&issued.token));
    let signature = issued.token.rsplit('.').next().unwrap();
    assert!(!signature.is_empty());

    let late = start() + TimeDelta::hours(1);
    let forged = format!("{}x", issued.token);
    for error in [
        tokens.verify(&keys, &issued.token, late).err(),
        tokens.verify(&keys, &forged, start()).err(),
    ] {
        let error = error.unwrap_or_else(|| panic!("the token was accepted"));
        for printed in [format!("{error:?}"), error.to_string()] {
            assert!(!printed.contains(signature), "{printed}");
        }
    }
}

/// A token verified once through a fresh cache, with what verified it.
fn remembered() -> (AccessTokens, KeySet, VerifiedTokens, IssuedToken) {
    let (tokens, keys, cache) = (
        tokens(),
        KeySet::generate(start(), &OsRandom),
        VerifiedTokens::new(),
    );
    let issued = issue(&tokens, &keys, start());
    cache
        .verify(&tokens, &keys, &issued.token, start())
        .unwrap();
    assert_eq!(cache.len(), 1);
    (tokens, keys, cache, issued)
}

#[test]
fn a_remembered_token_still_expires_on_time() {
    let (tokens, keys, cache, issued) = remembered();
    let first = tokens.verify(&keys, &issued.token, start()).unwrap();
    let again = cache.verify(
        &tokens,
        &keys,
        &issued.token,
        start() + TimeDelta::minutes(5),
    );
    assert_eq!(again.unwrap(), first);
    let late = start() + TimeDelta::minutes(10) + tokens.leeway;
    assert!(matches!(
        cache.verify(&tokens, &keys, &issued.token, late),
        Err(TokenError::Expired)
    ));
}

#[test]
fn a_remembered_token_stops_when_its_key_leaves_the_set() {
    let (tokens, _keys, cache, issued) = remembered();
    let other = KeySet::generate(start(), &OsRandom);
    assert_invalid(
        cache.verify(&tokens, &other, &issued.token, start()),
        "unknown key id",
    );
    assert!(cache.is_empty());
}

#[test]
fn only_the_exact_token_is_remembered() {
    let (tokens, keys, cache, issued) = remembered();
    // A character well inside the signature, so every one of its bits is signature.
    let mut forged = issued.token.clone().into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert!(cache.verify(&tokens, &keys, &forged, start()).is_err());
    assert_eq!(cache.len(), 1);
}
