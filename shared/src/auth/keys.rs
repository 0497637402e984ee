//! The Ed25519 keys access tokens are signed with, and the public key set (JWKS) that
//! publishes them.
//!
//! The key set lives in the secrets port as JSON under one name. It holds a `current` key (signs
//! new tokens), a `next` key (published ahead of rotation, so verifiers already trust it when it
//! becomes current), and `retired` keys (verify tokens issued before a rotation until those
//! expire). Each key's id (`kid`) is its RFC 7638 thumbprint, so the same key always has the
//! same id.
//!
//! Only what signs (login, refresh, and the operator's tooling) reads the private set. Its
//! public half ([`KeySet::public`]: the same keys and states, without the seeds) is published
//! under a second name; verifiers and the key set endpoint read that one, so a function that
//! only checks tokens holds no key that could mint one. [`KeySet::store`] writes both.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Random;
use crate::secrets::{Secrets, SecretsError};

/// The default name of the key set in the secrets port.
pub const DEFAULT_SECRET_NAME: &str = "signing-keys";

/// The default name of its public half.
pub const DEFAULT_PUBLIC_SECRET_NAME: &str = "public-keys";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Current,
    Next,
    Retired,
}

/// One key as stored: the 32-byte Ed25519 seed, base64url, in the private set; the public key
/// alone in the public set.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    pub state: KeyState,
    pub created_at: DateTime<Utc>,
    /// When the key stopped signing. Sets stored before rotation existed lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
    /// The public key (the JWK `x` member): in the public set, where there is no seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The seed is the private key: never print it.
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl StoredKey {
    fn generate(state: KeyState, now: DateTime<Utc>, random: &dyn Random) -> Self {
        let mut seed = [0u8; 32];
        random.fill(&mut seed);
        let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        Self {
            kid: thumbprint(&public),
            state,
            created_at: now,
            retired_at: None,
            seed: Some(URL_SAFE_NO_PAD.encode(seed)),
            x: None,
        }
    }

    fn signing_key(&self) -> Result<SigningKey, KeySetError> {
        let seed = self.seed.as_deref().ok_or_else(|| {
            KeySetError::Malformed(format!(
                "key {} is a public key: this set cannot sign",
                self.kid
            ))
        })?;
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(seed)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                KeySetError::Malformed(format!("key {} has a malformed seed", self.kid))
            })?;
        Ok(SigningKey::from_bytes(&seed))
    }

    /// The public half, base64url (the JWK `x` member).
    pub fn public_x(&self) -> Result<String, KeySetError> {
        match &self.x {
            Some(x) => {
                let bytes: [u8; 32] = URL_SAFE_NO_PAD
                    .decode(x)
                    .ok()
                    .and_then(|bytes| bytes.try_into().ok())
                    .ok_or_else(|| {
                        KeySetError::Malformed(format!(
                            "key {} has a malformed public key",
                            self.kid
                        ))
                    })?;
                if thumbprint(&bytes) != self.kid {
                    return Err(KeySetError::Malformed(format!(
                        "key {} does not match its id",
                        self.kid
                    )));
                }
                Ok(x.clone())
            }
            None => Ok(URL_SAFE_NO_PAD.encode(self.signing_key()?.verifying_key().to_bytes())),
        }
    }

    /// The key without its seed.
    fn public(&self) -> Result<Self, KeySetError> {
        Ok(Self {
            x: Some(self.public_x()?),
            seed: None,
            ..self.clone()
        })
    }

    /// The private key as PKCS#8 v1 DER, the form JWT libraries take.
    pub fn private_pkcs8_der(&self) -> Result<Vec<u8>, KeySetError> {
        let mut der = PKCS8_PREFIX.to_vec();
        der.extend_from_slice(self.signing_key()?.as_bytes());
        Ok(der)
    }
}

/// RFC 8410's PKCS#8 v1 wrapping of an Ed25519 seed, up to the 32 seed bytes that follow it:
/// SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }.
pub(crate) const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The RFC 7638 thumbprint of an Ed25519 public key.
fn thumbprint(public: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("no signing key set is stored under {0:?}")]
    Missing(String),
    #[error("the signing key set is malformed: {0}")]
    Malformed(String),
    #[error("the signing key set holds no key {0:?}")]
    UnknownKey(String),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

/// The stored key set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeySet {
    pub keys: Vec<StoredKey>,
}

impl KeySet {
    /// A new set with a current and a next key.
    pub fn generate(now: DateTime<Utc>, random: &dyn Random) -> Self {
        Self {
            keys: vec![
                StoredKey::generate(KeyState::Current, now, random),
                StoredKey::generate(KeyState::Next, now, random),
            ],
        }
    }

    pub fn parse(json: &str) -> Result<Self, KeySetError> {
        let set: KeySet =
            serde_json::from_str(json).map_err(|e| KeySetError::Malformed(e.to_string()))?;
        if set
            .keys
            .iter()
            .filter(|k| k.state == KeyState::Current)
            .count()
            != 1
        {
            return Err(KeySetError::Malformed(
                "the set must hold exactly one current key".into(),
            ));
        }
        for key in &set.keys {
            match &key.seed {
                Some(_) => key.signing_key().map(drop)?,
                None => key.public_x().map(drop)?,
            }
        }
        Ok(set)
    }

    /// The same keys and states without the seeds: what verifiers read. It verifies every token
    /// the private set's keys signed and can sign none.
    pub fn public(&self) -> Result<Self, KeySetError> {
        Ok(Self {
            keys: self
                .keys
                .iter()
                .map(StoredKey::public)
                .collect::<Result<_, _>>()?,
        })
    }

    /// Writes the set under `name` and its public half under `public_name`, in that order: a
    /// key reaches verifiers only once it is stored where signers read it, and a revoked key
    /// leaves verifiers with the second write.
    pub async fn store(
        &self,
        secrets: &dyn Secrets,
        name: &str,
        public_name: &str,
    ) -> Result<(), KeySetError> {
        let json = |set: &KeySet| {
            serde_json::to_string(set).map_err(|e| KeySetError::Malformed(e.to_string()))
        };
        secrets.put(name, &json(self)?).await?;
        self.publish(secrets, public_name).await
    }

    /// Writes the public half under `public_name`.
    pub async fn publish(
        &self,
        secrets: &dyn Secrets,
        public_name: &str,
    ) -> Result<(), KeySetError> {
        let public = serde_json::to_string(&self.public()?)
            .map_err(|e| KeySetError::Malformed(e.to_string()))?;
        secrets.put(public_name, &public).await?;
        Ok(())
    }

    pub fn current(&self) -> &StoredKey {
        // `parse` and `generate` guarantee exactly one current key.
        #[allow(clippy::expect_used)]
        self.keys
            .iter()
            .find(|k| k.state == KeyState::Current)
            .expect("a key set has a current key")
    }

    /// The key with this id, whatever its state.
    pub fn find(&self, kid: &str) -> Option<&StoredKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The key a token naming `kid` may be verified with at `now`: the current and the next
    /// key, and a retired one only while a token it signed can still be accepted
    /// (`max_token_lifetime` after its retirement), even if the set still lists it. A retired
    /// key that leaked then mints nothing that verifies.
    pub fn verifying(
        &self,
        kid: &str,
        now: DateTime<Utc>,
        max_token_lifetime: TimeDelta,
    ) -> Option<&StoredKey> {
        self.find(kid)
            .filter(|key| match (key.state, key.retired_at) {
                (KeyState::Retired, Some(retired_at)) => retired_at + max_token_lifetime > now,
                _ => true,
            })
    }

    /// Drops the key `kid` from the set at once, whatever its state: for a key that leaked.
    /// Dropping the current key promotes the next one (verifiers trust it already); a new next
    /// key replaces whichever was promoted or dropped. Tokens the key signed stop verifying as
    /// soon as a function reads the set again (within [`crate::auth::key_cache::CACHE_TTL`]).
    pub fn revoke(
        &mut self,
        kid: &str,
        now: DateTime<Utc>,
        random: &dyn Random,
    ) -> Result<KeyState, KeySetError> {
        let index = self
            .keys
            .iter()
            .position(|k| k.kid == kid)
            .ok_or_else(|| KeySetError::UnknownKey(kid.to_owned()))?;
        let revoked = self.keys.remove(index);
        let promoted = match revoked.state {
            KeyState::Current => match self.keys.iter_mut().find(|k| k.state == KeyState::Next) {
                Some(next) => {
                    next.state = KeyState::Current;
                    true
                }
                None => {
                    self.keys
                        .push(StoredKey::generate(KeyState::Current, now, random));
                    false
                }
            },
            KeyState::Next => true,
            KeyState::Retired => false,
        };
        if promoted {
            self.keys
                .push(StoredKey::generate(KeyState::Next, now, random));
        }
        Ok(revoked.state)
    }

    /// Retires the current key, promotes the next one and generates a new next key.
    ///
    /// A retired key keeps verifying until every token it signed has expired, that is for
    /// `max_token_lifetime` (the longest a token stays acceptable, leeway included) after it
    /// was retired; retired keys past that are dropped. Verifiers already trust the promoted key,
    /// since it was published as `next`.
    pub fn rotate(
        &mut self,
        now: DateTime<Utc>,
        random: &dyn Random,
        max_token_lifetime: TimeDelta,
    ) {
        self.keys.retain(|k| match (k.state, k.retired_at) {
            (KeyState::Retired, Some(retired_at)) => retired_at + max_token_lifetime > now,
            _ => true,
        });
        let mut promoted = false;
        for key in &mut self.keys {
            match key.state {
                KeyState::Current => {
                    key.state = KeyState::Retired;
                    key.retired_at = Some(now);
                }
                KeyState::Next if !promoted => {
                    key.state = KeyState::Current;
                    promoted = true;
                }
                // Without a recorded retirement the key's last token may be recent: count its
                // lifetime from now.
                KeyState::Retired if key.retired_at.is_none() => key.retired_at = Some(now),
                KeyState::Next | KeyState::Retired => {}
            }
        }
        if !promoted {
            // A set with no next key (written by hand) still ends with exactly one current key.
            self.keys
                .push(StoredKey::generate(KeyState::Current, now, random));
        }
        self.keys
            .push(StoredKey::generate(KeyState::Next, now, random));
    }

    /// Reads the set from the secrets port.
    pub async fn load(secrets: &dyn Secrets, name: &str) -> Result<Self, KeySetError> {
        let json = secrets
            .get(name)
            .await?
            .ok_or_else(|| KeySetError::Missing(name.to_owned()))?;
        Self::parse(&json)
    }

    /// Reads the set, generating and storing a new one when none exists yet. Racing callers end
    /// up with the same set: only one creation wins, the others read what it stored.
    pub async fn load_or_create(
        secrets: &dyn Secrets,
        name: &str,
        now: DateTime<Utc>,
        random: &dyn Random,
    ) -> Result<Self, KeySetError> {
        match Self::load(secrets, name).await {
            Err(KeySetError::Missing(_)) => {
                let set = Self::generate(now, random);
                let json = serde_json::to_string(&set)
                    .map_err(|e| KeySetError::Malformed(e.to_string()))?;
                if secrets.create(name, &json).await? {
                    tracing::info!(secret = name, kid = %set.current().kid, "generated a new signing key set");
                    Ok(set)
                } else {
                    Self::load(secrets, name).await
                }
            }
            other => other,
        }
    }

    /// [`Self::load_or_create`], then publishes the public half (again: it is the set's own,
    /// so publishing twice changes nothing).
    pub async fn ensure(
        secrets: &dyn Secrets,
        name: &str,
        public_name: &str,
        now: DateTime<Utc>,
        random: &dyn Random,
    ) -> Result<Self, KeySetError> {
        let set = Self::load_or_create(secrets, name, now, random).await?;
        set.publish(secrets, public_name).await?;
        Ok(set)
    }

    /// The public keys verifiers should trust: every key in the set.
    pub fn jwks(&self) -> Result<Jwks, KeySetError> {
        let keys = self
            .keys
            .iter()
            .map(|key| {
                Ok(Jwk {
                    kty: "OKP",
                    crv: "Ed25519",
                    alg: "EdDSA",
                    key_use: "sig",
                    kid: key.kid.clone(),
                    x: key.public_x()?,
                })
            })
            .collect::<Result<_, KeySetError>>()?;
        Ok(Jwks { keys })
    }
}

/// A JSON Web Key Set (RFC 7517) of public keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub key_use: &'static str,
    pub kid: String,
    pub x: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandom;

    #[test]
    fn a_generated_set_round_trips_through_its_stored_form() {
        let set = KeySet::generate(Utc::now(), &OsRandom);
        let json = serde_json::to_string(&set).unwrap();
        let parsed = KeySet::parse(&json);
        assert!(parsed.is_ok(), "{parsed:?}");
        let jwks = parsed.and_then(|s| s.jwks()).map(|j| j.keys.len()).ok();
        assert_eq!(jwks, Some(2));
    }

    #[test]
    fn a_key_id_is_the_rfc7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let public: [u8; 32] = x.try_into().unwrap();
        assert_eq!(
            thumbprint(&public),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn the_pkcs8_form_wraps_the_seed() {
        let set = KeySet::generate(Utc::now(), &OsRandom);
        let der = set.current().private_pkcs8_der().unwrap();
        assert_eq!(der.len(), 48);
        assert_eq!(&der[..2], &[0x30, 0x2e]);
    }

    #[test]
    fn a_set_without_a_current_key_is_malformed() {
        let mut set = KeySet::generate(Utc::now(), &OsRandom);
        set.keys.retain(|k| k.state != KeyState::Current);
        let json = serde_json::to_string(&set).unwrap();
        assert!(matches!(
            KeySet::parse(&json),
            Err(KeySetError::Malformed(_))
        ));
    }

    #[test]
    fn debug_output_never_shows_the_seed() {
        let set = KeySet::generate(Utc::now(), &OsRandom);
        let printed = format!("{set:?}");
        for key in &set.keys {
            assert!(!printed.contains(key.seed.as_deref().unwrap()));
        }
    }

    fn states(set: &KeySet) -> Vec<(String, KeyState)> {
        set.keys.iter().map(|k| (k.kid.clone(), k.state)).collect()
    }

    #[test]
    fn rotation_retires_the_current_key_and_promotes_the_next() {
        let start = Utc::now();
        let mut set = KeySet::generate(start, &OsRandom);
        let old_current = set.current().kid.clone();
        let old_next = set
            .keys
            .iter()
            .find(|k| k.state == KeyState::Next)
            .map(|k| k.kid.clone());
        let later = start + TimeDelta::hours(1);
        set.rotate(later, &OsRandom, TimeDelta::minutes(16));

        assert_eq!(Some(set.current().kid.clone()), old_next);
        let retired = set.find(&old_current);
        assert_eq!(retired.map(|k| k.state), Some(KeyState::Retired));
        assert_eq!(retired.and_then(|k| k.retired_at), Some(later));
        let nexts: Vec<_> = states(&set)
            .into_iter()
            .filter(|(_, s)| *s == KeyState::Next)
            .collect();
        assert_eq!(nexts.len(), 1, "{set:?}");
        assert_ne!(Some(nexts[0].0.clone()), old_next);
        assert_eq!(set.keys.len(), 3);
    }

    #[test]
    fn a_retired_key_is_dropped_once_its_tokens_have_expired() {
        let start = Utc::now();
        let lifetime = TimeDelta::minutes(16);
        let mut set = KeySet::generate(start, &OsRandom);
        let first = set.current().kid.clone();
        set.rotate(start, &OsRandom, lifetime);
        set.rotate(
            start + lifetime - TimeDelta::seconds(1),
            &OsRandom,
            lifetime,
        );
        assert!(set.find(&first).is_some(), "dropped too early");
        set.rotate(start + lifetime, &OsRandom, lifetime);
        assert!(set.find(&first).is_none(), "kept too long");
    }

    #[test]
    fn the_published_set_holds_every_key_including_retired_ones() {
        let start = Utc::now();
        let mut set = KeySet::generate(start, &OsRandom);
        set.rotate(start, &OsRandom, TimeDelta::minutes(16));
        let published: Vec<String> = set
            .jwks()
            .map(|j| j.keys.into_iter().map(|k| k.kid).collect())
            .unwrap();
        let stored: Vec<String> = set.keys.iter().map(|k| k.kid.clone()).collect();
        assert_eq!(published, stored);
        assert_eq!(published.len(), 3);
    }

    #[test]
    fn a_set_stored_before_rotation_existed_still_parses_and_rotates() {
        let set = KeySet::generate(Utc::now(), &OsRandom);
        let mut value = serde_json::to_value(&set).unwrap();
        for key in value["keys"].as_array_mut().into_iter().flatten() {
            key.as_object_mut().map(|k| k.remove("retired_at"));
        }
        let mut legacy = KeySet::parse(&value.to_string());
        assert!(legacy.is_ok(), "{legacy:?}");
        if let Ok(set) = legacy.as_mut() {
            set.keys[0].state = KeyState::Retired;
            set.keys[1].state = KeyState::Current;
            let now = Utc::now();
            set.rotate(now, &OsRandom, TimeDelta::minutes(16));
            // A retired key of unknown age is kept and its lifetime counted from now.
            assert_eq!(set.keys[0].retired_at, Some(now));
            assert_eq!(set.keys.len(), 4);
        }
    }

    #[test]
    fn a_retired_key_stops_verifying_once_its_tokens_can_have_expired() {
        let start = Utc::now();
        let lifetime = TimeDelta::minutes(16);
        let mut set = KeySet::generate(start, &OsRandom);
        let first = set.current().kid.clone();
        set.rotate(start, &OsRandom, lifetime);
        let at = |offset: TimeDelta| start + offset;
        assert!(
            set.verifying(&first, at(lifetime - TimeDelta::seconds(1)), lifetime)
                .is_some()
        );
        assert!(set.find(&first).is_some(), "still listed");
        assert!(set.verifying(&first, at(lifetime), lifetime).is_none());
        let current = set.current().kid.clone();
        assert!(
            set.verifying(&current, at(TimeDelta::days(400)), lifetime)
                .is_some()
        );
    }

    #[test]
    fn revoking_a_key_drops_it_and_keeps_one_current_and_one_next() {
        let now = Utc::now();
        for state in [KeyState::Current, KeyState::Next, KeyState::Retired] {
            let mut set = KeySet::generate(now, &OsRandom);
            set.rotate(now, &OsRandom, TimeDelta::minutes(16));
            let kid = set
                .keys
                .iter()
                .find(|k| k.state == state)
                .map(|k| k.kid.clone())
                .unwrap();
            let next_before = set
                .keys
                .iter()
                .find(|k| k.state == KeyState::Next)
                .map(|k| k.kid.clone())
                .unwrap();
            assert_eq!(set.revoke(&kid, now, &OsRandom).ok(), Some(state));
            assert!(set.find(&kid).is_none(), "{state:?} still there");
            let count = |s: KeyState| set.keys.iter().filter(|k| k.state == s).count();
            assert_eq!((count(KeyState::Current), count(KeyState::Next)), (1, 1));
            if state == KeyState::Current {
                assert_eq!(set.current().kid, next_before, "the next key takes over");
            }
            let reparsed = KeySet::parse(&serde_json::to_string(&set).unwrap());
            assert!(reparsed.is_ok(), "{reparsed:?}");
        }
        let mut set = KeySet::generate(now, &OsRandom);
        assert!(matches!(
            set.revoke("no-such-kid", now, &OsRandom),
            Err(KeySetError::UnknownKey(_))
        ));
    }

    #[test]
    fn the_public_half_verifies_what_the_set_signs_and_holds_no_seed() {
        let now = Utc::now();
        let mut set = KeySet::generate(now, &OsRandom);
        set.rotate(now, &OsRandom, TimeDelta::minutes(16));
        let public = set.public().unwrap();
        let json = serde_json::to_string(&public).unwrap();
        for key in &set.keys {
            assert!(
                !json.contains(key.seed.as_deref().unwrap()),
                "a seed is published"
            );
        }
        let reparsed = KeySet::parse(&json).unwrap();
        assert_eq!(reparsed.jwks().unwrap(), set.jwks().unwrap());
        assert_eq!(states(&reparsed), states(&set));
        assert!(
            reparsed.current().private_pkcs8_der().is_err(),
            "a public set signs"
        );

        // A public key that does not match its id is refused.
        let mut forged: serde_json::Value = serde_json::from_str(&json).unwrap();
        forged["keys"][0]["x"] = serde_json::Value::String(URL_SAFE_NO_PAD.encode([7u8; 32]));
        assert!(KeySet::parse(&forged.to_string()).is_err());
    }

    #[test]
    fn a_key_is_found_by_its_id_and_an_unknown_id_finds_nothing() {
        let set = KeySet::generate(Utc::now(), &OsRandom);
        let kid = set.current().kid.clone();
        assert_eq!(set.find(&kid).map(|k| k.state), Some(KeyState::Current));
        assert!(set.find("not-a-kid").is_none());
    }
}
