//! The item store on DynamoDB: one table, two overloaded indexes, an expiry index, TTL.
//!
//! The table has `pk`/`sk` (strings) as its key, the global secondary indexes `gsi1`
//! (`gsi1pk`/`gsi1sk`), `gsi2` (`gsi2pk`/`gsi2sk`) and [`wire::EXPIRY_INDEX`]
//! (`exp_shard`/`ttl`), all projecting every attribute, TTL on `ttl`, and a stream with new
//! and old images. Items are stored in their [`wire`] form.
//!
//! DynamoDB deletes expired items up to two days late, so every read filters them out and
//! every condition treats them as absent, by the store's own clock.

mod counter;
mod cursor;
mod expiry;
mod expression;
mod transaction;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use shared::clock::Clock;
use shared::store::{Condition, Item, ItemStore, Key, Page, Query, SortKey, StoreError, Write};

use self::expression::{Expression, Guard};
use self::transaction::{Failure, retrying_conflicts};
use shared::store::wire;

type Attributes = HashMap<String, AttributeValue>;

/// The item store on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    /// The clock's reading in epoch seconds, as `ttl` holds it.
    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// One PutItem under `guard`; a transaction conflict is left to the caller to retry.
    async fn put_once(&self, item: &Attributes, guard: Guard<'_>) -> Result<(), Failure> {
        let mut e = Expression::default();
        let condition = e.guard(guard, self.now())?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => Err(match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    Failure::Store(StoreError::ConditionFailed { index: 0 })
                }
                Some(PutItemError::TransactionConflictException(_)) => {
                    Failure::Conflict(err.into())
                }
                _ => Failure::Store(unexpected(err, "putting an item")),
            }),
        }
    }

    /// One DeleteItem under `guard`; a transaction conflict is left to the caller to retry.
    async fn delete_once(&self, key: &Key, guard: Guard<'_>) -> Result<(), Failure> {
        let mut e = Expression::default();
        let condition = e.guard(guard, self.now())?;
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => Err(match err.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => {
                    Failure::Store(StoreError::ConditionFailed { index: 0 })
                }
                Some(DeleteItemError::TransactionConflictException(_)) => {
                    Failure::Conflict(err.into())
                }
                _ => Failure::Store(unexpected(err, "deleting an item")),
            }),
        }
    }
}

#[async_trait]
impl ItemStore for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unexpected(e, "getting an item"))?;
        let now = self.clock.now();
        match output.item {
            Some(attributes) => Ok(live(decode(attributes)?, now)),
            None => Ok(None),
        }
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        let item = encode(&item)?;
        retrying_conflicts(|| self.put_once(&item, condition.as_ref().into())).await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError> {
        retrying_conflicts(|| self.delete_once(key, condition.as_ref().into())).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.transact_writes(writes).await
    }

    async fn add(
        &self,
        key: &Key,
        attribute: &str,
        delta: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError> {
        self.add_to_counter(key, attribute, delta, expires_at).await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        if !(1..=1000).contains(&query.limit) {
            return Err(
                anyhow::anyhow!("a query limit must be 1..=1000, not {}", query.limit).into(),
            );
        }
        let (pk_name, sk_name) = query
            .index
            .map_or(("pk", "sk"), |index| index.key_attributes());
        let mut e = Expression::default();
        let pk = e.name(pk_name);
        let pk_value = e.string(&query.pk);
        let mut key_condition = format!("{pk} = {pk_value}");
        // DynamoDB rejects placeholders an expression does not use, so the sort key is named
        // only when it is constrained.
        let sk = |e: &mut Expression| e.name(sk_name);
        match &query.sk {
            SortKey::Any => {}
            SortKey::BeginsWith(prefix) if prefix.is_empty() => {}
            SortKey::Equals(v) => {
                key_condition += &format!(" AND {} = {}", sk(&mut e), e.string(v))
            }
            SortKey::BeginsWith(v) => {
                key_condition += &format!(" AND begins_with({}, {})", sk(&mut e), e.string(v));
            }
            SortKey::LessThan(v) => {
                key_condition += &format!(" AND {} < {}", sk(&mut e), e.string(v))
            }
            SortKey::GreaterThan(v) => {
                key_condition += &format!(" AND {} > {}", sk(&mut e), e.string(v))
            }
            // DynamoDB rejects an empty range instead of selecting nothing.
            SortKey::Between(low, high) if low > high => return Ok(Page::default()),
            SortKey::Between(low, high) => {
                let (sk, low, high) = (sk(&mut e), e.string(low), e.string(high));
                key_condition += &format!(" AND {sk} BETWEEN {low} AND {high}");
            }
        }
        let ttl = e.name("ttl");
        let now = e.number(self.now());
        let filter = format!("attribute_not_exists({ttl}) OR {ttl} > {now}");
        let start = query
            .cursor
            .as_ref()
            .map(|c| cursor::decode(c, &query))
            .transpose()?;
        let limit = i32::try_from(query.limit).context("query limit")?;

        let output = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(query.index.map(|index| index.name().to_owned()))
            .key_condition_expression(key_condition)
            .filter_expression(filter)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .scan_index_forward(!query.descending)
            .limit(limit)
            .set_exclusive_start_key(start)
            .consistent_read(query.index.is_none())
            .send()
            .await
            .map_err(|e| unexpected(e, "querying items"))?;

        let now = self.clock.now();
        let mut items = Vec::new();
        for attributes in output.items.unwrap_or_default() {
            items.extend(live(decode(attributes)?, now));
        }
        let next = output.last_evaluated_key.map(cursor::encode).transpose()?;
        Ok(Page { items, next })
    }

    async fn purge_expired(&self, limit: usize) -> Result<usize, StoreError> {
        self.purge(limit).await
    }
}

fn key_attributes(key: &Key) -> Attributes {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk.clone())),
        ("sk".to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// An item in its stored form.
fn encode(item: &Item) -> Result<Attributes, StoreError> {
    item.check_attribute_names()?;
    let attributes = serde_dynamo::aws_sdk_dynamodb_1::to_item(wire::to_wire(item))
        .context("encoding an item as DynamoDB attributes")?;
    Ok(attributes)
}

fn decode(attributes: Attributes) -> Result<Item, StoreError> {
    let flat = serde_dynamo::aws_sdk_dynamodb_1::from_item(attributes)
        .context("decoding a stored item")?;
    Ok(wire::from_wire(flat)?)
}

/// The item, unless it has expired by `now`.
fn live(item: Item, now: DateTime<Utc>) -> Option<Item> {
    (!item.is_expired_at(now)).then_some(item)
}

fn unexpected<E>(error: E, doing: &'static str) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Unexpected(anyhow::Error::new(error).context(doing))
}
