//! Secrets on AWS Secrets Manager, cached in the process.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
use chrono::{DateTime, TimeDelta, Utc};
use shared::clock::Clock;
use shared::secrets::{Secrets, SecretsError, check_name};

/// Secrets Manager with a per-name cache. Only values that exist are cached, so a secret
/// created elsewhere is seen on the next read.
pub struct SecretsManager {
    client: Client,
    cache_ttl: TimeDelta,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    value: String,
    fetched_at: DateTime<Utc>,
}

impl fmt::Debug for SecretsManager {
    // Values stay out of logs: only the cache's size shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsManager")
            .field("cache_ttl", &self.cache_ttl)
            .field("cached", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl SecretsManager {
    pub fn new(client: Client, cache_ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        let cache_ttl = TimeDelta::from_std(cache_ttl).unwrap_or(TimeDelta::MAX);
        Self {
            client,
            cache_ttl,
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Cached>> {
        // The map is valid after any panic (every update is a single insert or remove).
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cached(&self, name: &str) -> Option<String> {
        let now = self.clock.now();
        let cache = self.lock();
        cache
            .get(name)
            .filter(|c| now - c.fetched_at < self.cache_ttl)
            .map(|c| c.value.clone())
    }

    fn remember(&self, name: &str, value: &str) {
        let cached = Cached {
            value: value.to_owned(),
            fetched_at: self.clock.now(),
        };
        self.lock().insert(name.to_owned(), cached);
    }

    fn forget(&self, name: &str) {
        self.lock().remove(name);
    }

    /// Creates the secret; false when one of that name exists already.
    async fn create_secret(&self, name: &str, value: &str) -> Result<bool, SecretsError> {
        let result = self
            .client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(CreateSecretError::ResourceExistsException(_))
                ) =>
            {
                Ok(false)
            }
            Err(err) => Err(anyhow::Error::new(err)
                .context(format!("creating secret {name}"))
                .into()),
        }
    }

    /// Stores a new value; false when there is no secret of that name.
    async fn put_value(&self, name: &str, value: &str) -> Result<bool, SecretsError> {
        let result = self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(PutSecretValueError::ResourceNotFoundException(_))
                ) =>
            {
                Ok(false)
            }
            Err(err) => Err(anyhow::Error::new(err)
                .context(format!("storing secret {name}"))
                .into()),
        }
    }
}

#[async_trait]
impl Secrets for SecretsManager {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretsError> {
        check_name(name)?;
        if let Some(value) = self.cached(name) {
            return Ok(Some(value));
        }
        let output = match self.client.get_secret_value().secret_id(name).send().await {
            Ok(output) => output,
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(GetSecretValueError::ResourceNotFoundException(_))
                ) =>
            {
                self.forget(name);
                return Ok(None);
            }
            Err(err) => {
                return Err(anyhow::Error::new(err)
                    .context(format!("reading secret {name}"))
                    .into());
            }
        };
        let value = output
            .secret_string
            .with_context(|| format!("secret {name} holds no string"))?;
        self.remember(name, &value);
        Ok(Some(value))
    }

    async fn put(&self, name: &str, value: &str) -> Result<(), SecretsError> {
        check_name(name)?;
        // A racing creator may win between the failed put and the create; then the put is
        // simply tried again on the secret that now exists.
        let stored = self.put_value(name, value).await?
            || self.create_secret(name, value).await?
            || self.put_value(name, value).await?;
        if !stored {
            self.forget(name);
            return Err(
                anyhow::anyhow!("secret {name} was neither updatable nor creatable").into(),
            );
        }
        self.remember(name, value);
        Ok(())
    }

    async fn create(&self, name: &str, value: &str) -> Result<bool, SecretsError> {
        check_name(name)?;
        let created = self.create_secret(name, value).await?;
        if created {
            self.remember(name, value);
        } else {
            self.forget(name);
        }
        Ok(created)
    }
}
