//! Access tokens: short-lived EdDSA JWTs, issued and verified against our own key set.
//!
//! A token is an RFC 9068 access token (`typ: at+jwt`) signed with the key set's current key
//! and naming it by `kid`. Verification trusts nothing the token says about itself: the
//! algorithm must be EdDSA, the key must be one of ours, and time is judged by the caller's
//! clock, so tests can move it.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::keys::{KeySet, KeySetError};

mod eddsa;
mod verified;

pub use verified::VerifiedTokens;

/// The longest an access token may live.
pub const MAX_TTL: TimeDelta = TimeDelta::minutes(15);
/// The clock skew tolerated when no other is configured.
pub const DEFAULT_LEEWAY: TimeDelta = TimeDelta::seconds(30);
/// The largest clock skew that may be configured.
pub const MAX_LEEWAY: TimeDelta = TimeDelta::seconds(60);
/// The JOSE `typ` of an access token (RFC 9068): anything else, an ID token for one, is refused.
pub const TOKEN_TYPE: &str = "at+jwt";

/// Our tokens are a few hundred bytes; anything far larger is not one of them and is refused
/// before any decoding work.
const MAX_TOKEN_LEN: usize = 4096;

/// How access tokens are issued and what a valid one must say.
#[derive(Debug, Clone)]
pub struct AccessTokens {
    issuer: String,
    audience: String,
    ttl: TimeDelta,
    leeway: TimeDelta,
}

/// The claims an access token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The session (refresh token family) the token was issued for.
    pub sid: String,
    /// The user's token version when issued; a later version revokes the token.
    pub ver: u64,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// A freshly signed token and what it says.
#[derive(Clone)]
pub struct IssuedToken {
    pub token: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub claims: Claims,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a bearer credential: never print it.
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("claims", &self.claims)
            .finish()
    }
}

/// Why a token was not issued or not accepted. Never carries the token itself.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Malformed, forged, of another kind, signed by a key we do not hold, or meant for someone
    /// else. The reason is for logs only; callers answer all of them alike.
    #[error("the access token is invalid: {0}")]
    Invalid(&'static str),
    /// Genuine, but past its expiry (leeway included).
    #[error("the access token has expired")]
    Expired,
    #[error(transparent)]
    Keys(#[from] KeySetError),
    #[error("the access token could not be signed")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenConfigError {
    #[error("the access token lifetime must be between 1 second and 15 minutes, not {0}")]
    Ttl(TimeDelta),
    #[error("the clock leeway must be between 0 and 60 seconds, not {0}")]
    Leeway(TimeDelta),
    #[error("the access token {0} must not be empty")]
    Empty(&'static str),
}

impl AccessTokens {
    /// Tokens for `audience` from `issuer` living `ttl` (at least 1 s, at most 15 min), with the
    /// default 30 s leeway.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ttl: TimeDelta,
    ) -> Result<Self, TokenConfigError> {
        let (issuer, audience) = (issuer.into(), audience.into());
        if issuer.is_empty() {
            return Err(TokenConfigError::Empty("issuer"));
        }
        if audience.is_empty() {
            return Err(TokenConfigError::Empty("audience"));
        }
        if ttl < TimeDelta::seconds(1) || ttl > MAX_TTL {
            return Err(TokenConfigError::Ttl(ttl));
        }
        Ok(Self {
            issuer,
            audience,
            ttl,
            leeway: DEFAULT_LEEWAY,
        })
    }

    /// The same configuration with another clock leeway (0 to 60 s).
    pub fn with_leeway(self, leeway: TimeDelta) -> Result<Self, TokenConfigError> {
        if leeway < TimeDelta::zero() || leeway > MAX_LEEWAY {
            return Err(TokenConfigError::Leeway(leeway));
        }
        Ok(Self { leeway, ..self })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn ttl(&self) -> TimeDelta {
        self.ttl
    }

    pub fn leeway(&self) -> TimeDelta {
        self.leeway
    }

    /// How long after issue a token may still be accepted: what a rotated-out key must stay
    /// trusted for (see [`KeySet::rotate`]).
    pub fn max_token_lifetime(&self) -> TimeDelta {
        self.ttl + self.leeway
    }

    /// Signs a token for `subject`'s session with the set's current key.
    pub fn issue(
        &self,
        keys: &KeySet,
        subject: &str,
        session_id: &str,
        token_version: u64,
        now: DateTime<Utc>,
        jti: Uuid,
    ) -> Result<IssuedToken, TokenError> {
        let key = keys.current();
        let iat = now.timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.to_owned(),
            sid: session_id.to_owned(),
            ver: token_version,
            iat,
            exp: iat + self.ttl.num_seconds(),
            jti: jti.to_string(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid.clone());
        eddsa::install();
        let signing_key = EncodingKey::from_ed_der(&key.private_pkcs8_der()?);
        let token =
            jsonwebtoken::encode(&header, &claims, &signing_key).map_err(TokenError::Signing)?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl.num_seconds(),
            claims,
        })
    }

    /// The claims of a token we issued, if it is genuine, meant for us and not expired at `now`.
    /// Whether the session and token version still stand is for the caller to check.
    pub fn verify(
        &self,
        keys: &KeySet,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Claims, TokenError> {
        self.verify_naming_key(keys, token, now)
            .map(|(claims, _kid)| claims)
    }

    /// [`Self::verify`], with the id of the key that signed the token.
    fn verify_naming_key(
        &self,
        keys: &KeySet,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(Claims, String), TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid("too long"));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| TokenError::Invalid("malformed header"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid("algorithm not allowed"));
        }
        if header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(TokenError::Invalid("not an access token"));
        }
        // We never issue these; a token carrying its own key or extensions is not ours.
        if header.jwk.is_some()
            || header.jku.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.crit.is_some()
        {
            return Err(TokenError::Invalid("unexpected header parameter"));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(TokenError::Invalid("no key id"))?;
        let key = keys
            .verifying(kid, now, self.max_token_lifetime())
            .ok_or(TokenError::Invalid("unknown key id"))?;
        let verifying_key = DecodingKey::from_ed_components(&key.public_x()?)
            .map_err(|_| KeySetError::Malformed(format!("key {kid} has a malformed public key")))?;

        eddsa::install();
        let mut validation = Validation::new(Algorithm::EdDSA);
        // The library would judge time by the system clock; it is checked below against `now`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        let claims = jsonwebtoken::decode::<Claims>(token, &verifying_key, &validation)
            .map_err(|e| TokenError::Invalid(rejection(e.kind())))?
            .claims;

        if claims.iss != self.issuer {
            return Err(TokenError::Invalid("wrong issuer"));
        }
        if claims.aud != self.audience {
            return Err(TokenError::Invalid("wrong audience"));
        }
        let (now, leeway) = (now.timestamp(), self.leeway.num_seconds());
        if claims.iat > now.saturating_add(leeway) {
            return Err(TokenError::Invalid("issued in the future"));
        }
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if lifetime <= 0 || lifetime > MAX_TTL.num_seconds() {
            return Err(TokenError::Invalid("lifetime out of range"));
        }
        if now >= claims.exp.saturating_add(leeway) {
            return Err(TokenError::Expired);
        }
        Ok((claims, kid.to_owned()))
    }
}

/// The log reason for a token the library refused.
fn rejection(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::MissingRequiredClaim(_) => "missing claim",
        ErrorKind::InvalidAlgorithm => "algorithm not allowed",
        ErrorKind::InvalidToken
        | ErrorKind::InvalidClaimFormat(_)
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => "malformed",
        _ => "rejected",
    }
}

#[cfg(test)]
mod tests;
