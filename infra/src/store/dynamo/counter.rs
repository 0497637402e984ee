//! Atomic counters: `ADD` on one attribute, restarting the item when it has expired.

use anyhow::{Context, anyhow};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use shared::store::{Item, Key, RESERVED_ATTRIBUTES, StoreError};

use super::expression::{Expression, Guard};
use super::transaction::{Failure, retrying_conflicts};
use super::{DynamoStore, encode, key_attributes, unexpected};
use shared::store::wire;

/// How many rounds an add takes before giving up on a counter others keep recreating.
const ADD_ROUNDS: usize = 5;

/// What one conditional update found.
enum Update {
    Done(i64),
    ConditionFailed,
}

impl DynamoStore {
    /// The port's `add`. The common case (a live or missing counter) is one `UpdateItem`.
    /// An expired counter is replaced by a fresh one with a put conditioned on it still being
    /// expired, so two racing writers cannot both restart it.
    pub(super) async fn add_to_counter(
        &self,
        key: &Key,
        attribute: &str,
        delta: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError> {
        if RESERVED_ATTRIBUTES.contains(&attribute) {
            return Err(anyhow!("attribute name {attribute:?} is reserved by the store").into());
        }
        for _ in 0..ADD_ROUNDS {
            if let Update::Done(value) = self
                .add_live_or_missing(key, attribute, delta, expires_at)
                .await?
            {
                return Ok(value);
            }
            // The counter exists and has expired, or (only when `expires_at` is given) lives
            // without an expiry, which the first update must not give it.
            if self
                .restart_expired(key, attribute, delta, expires_at)
                .await?
            {
                return Ok(delta);
            }
            if expires_at.is_some()
                && let Update::Done(value) = self.add_without_expiry(key, attribute, delta).await?
            {
                return Ok(value);
            }
        }
        Err(anyhow!(
            "counter {}/{} kept changing under {ADD_ROUNDS} adds",
            key.pk,
            key.sk
        )
        .into())
    }

    /// Adds to a live counter, or creates a missing one (with its expiry).
    async fn add_live_or_missing(
        &self,
        key: &Key,
        attribute: &str,
        delta: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Update, StoreError> {
        let mut e = Expression::default();
        let (pk, ttl) = (e.name("pk"), e.name("ttl"));
        let now = e.number(self.now());
        let (name, value) = (e.name(attribute), e.number(delta));
        let (update, condition) = match expires_at {
            Some(at) => {
                let shard = e.name("exp_shard");
                let (at, shard_value) =
                    (e.number(at.timestamp()), e.string(wire::expiry_shard(key)));
                (
                    format!(
                        "ADD {name} {value} SET {ttl} = if_not_exists({ttl}, {at}), \
                         {shard} = if_not_exists({shard}, {shard_value})"
                    ),
                    format!("attribute_not_exists({pk}) OR {ttl} > {now}"),
                )
            }
            None => (
                format!("ADD {name} {value}"),
                format!(
                    "attribute_not_exists({pk}) OR attribute_not_exists({ttl}) OR {ttl} > {now}"
                ),
            ),
        };
        self.update(key, attribute, update, condition, e).await
    }

    /// Adds to a live counter that has no expiry.
    async fn add_without_expiry(
        &self,
        key: &Key,
        attribute: &str,
        delta: i64,
    ) -> Result<Update, StoreError> {
        let mut e = Expression::default();
        let (pk, ttl) = (e.name("pk"), e.name("ttl"));
        let (name, value) = (e.name(attribute), e.number(delta));
        let update = format!("ADD {name} {value}");
        let condition = format!("attribute_exists({pk}) AND attribute_not_exists({ttl})");
        self.update(key, attribute, update, condition, e).await
    }

    /// Replaces an expired counter with a fresh one holding `delta`; false when it was not
    /// (or no longer) expired.
    async fn restart_expired(
        &self,
        key: &Key,
        attribute: &str,
        delta: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let mut item = Item::new(
            key.clone(),
            Map::from_iter([(attribute.to_owned(), Value::from(delta))]),
        );
        item.expires_at = expires_at;
        let item = encode(&item)?;
        let outcome = retrying_conflicts(|| self.put_once(&item, Guard::Expired)).await;
        match outcome {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn update(
        &self,
        key: &Key,
        attribute: &str,
        update: String,
        condition: String,
        e: Expression,
    ) -> Result<Update, StoreError> {
        retrying_conflicts(|| async {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_attributes(key)))
                .update_expression(update.clone())
                .condition_expression(condition.clone())
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            let output = match result {
                Ok(output) => output,
                Err(err) => {
                    return match err.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                            Ok(Update::ConditionFailed)
                        }
                        Some(UpdateItemError::TransactionConflictException(_)) => {
                            Err(Failure::Conflict(err.into()))
                        }
                        _ => Err(Failure::Store(unexpected(err, "adding to a counter"))),
                    };
                }
            };
            let value = match output.attributes.as_ref().and_then(|a| a.get(attribute)) {
                Some(AttributeValue::N(n)) => n
                    .parse::<i64>()
                    .context("a counter that is not an integer")?,
                other => {
                    return Err(Failure::Store(
                        anyhow!("counter update returned {other:?}").into(),
                    ));
                }
            };
            Ok(Update::Done(value))
        })
        .await
    }
}
