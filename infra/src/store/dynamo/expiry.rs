//! Eager removal of expired items, through the expiry index.

use std::collections::HashMap;

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use shared::store::{Key, StoreError};

use super::expression::{Expression, Guard};
use super::transaction::retrying_conflicts;
use super::{DynamoStore, unexpected};
use shared::store::wire::{EXPIRY_INDEX, EXPIRY_SHARDS};

/// How many keys one page of the expiry index returns at most.
const PAGE: usize = 100;

impl DynamoStore {
    /// Visits every shard of the expiry index in turn and deletes what expired there, each
    /// delete conditioned on the item still being expired (it may have been replaced since).
    pub(super) async fn purge(&self, limit: usize) -> Result<usize, StoreError> {
        let mut purged = 0;
        for shard in 0..EXPIRY_SHARDS {
            let mut start = None;
            loop {
                if purged >= limit {
                    return Ok(purged);
                }
                let (keys, next) = self
                    .expired_keys(shard, (limit - purged).min(PAGE), start)
                    .await?;
                for key in keys {
                    if self.delete_expired(&key).await? {
                        purged += 1;
                    }
                }
                match next {
                    Some(next) => start = Some(next),
                    None => break,
                }
            }
        }
        Ok(purged)
    }

    /// One page of the keys of items expired in a shard.
    async fn expired_keys(
        &self,
        shard: u32,
        limit: usize,
        start: Option<HashMap<String, AttributeValue>>,
    ) -> Result<(Vec<Key>, Option<HashMap<String, AttributeValue>>), StoreError> {
        let mut e = Expression::default();
        let (shard_name, ttl) = (e.name("exp_shard"), e.name("ttl"));
        let (shard, now) = (e.string(format!("exp#{shard}")), e.number(self.now()));
        let projection = format!("{}, {}", e.name("pk"), e.name("sk"));
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(EXPIRY_INDEX)
            .key_condition_expression(format!("{shard_name} = {shard} AND {ttl} <= {now}"))
            .projection_expression(projection)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .limit(i32::try_from(limit).context("purge page size")?)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| unexpected(e, "querying the expiry index"))?;
        let keys = output
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| match (item.get("pk"), item.get("sk")) {
                (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
                    Some(Key::new(pk, sk))
                }
                _ => None,
            })
            .collect();
        Ok((keys, output.last_evaluated_key))
    }

    /// Deletes an item if it is still expired; whether it did.
    async fn delete_expired(&self, key: &Key) -> Result<bool, StoreError> {
        let outcome = retrying_conflicts(|| self.delete_once(key, Guard::Expired)).await;
        match outcome {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
