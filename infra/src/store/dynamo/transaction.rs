//! Transactions, and retrying writes that lost a race against another transaction.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, anyhow};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem};
use shared::store::{MAX_TRANSACTION_WRITES, StoreError, Write};

use super::expression::Expression;
use super::{DynamoStore, encode, key_attributes, unexpected};

/// How many times a write that conflicted with a concurrent transaction is tried in all.
const CONFLICT_ATTEMPTS: u32 = 5;

/// The first backoff after a conflict; it doubles on every further attempt.
const BASE_BACKOFF: Duration = Duration::from_millis(20);

/// Why one attempt at a write failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// Another transaction held an item the write needed; trying again may succeed.
    Conflict(anyhow::Error),
    /// A final answer.
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Store(StoreError::Unexpected(error))
    }
}

/// Runs `attempt` until it stops conflicting, with jittered exponential backoff between tries.
pub(super) async fn retrying_conflicts<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(Failure::Store(error)) => return Err(error),
            Err(Failure::Conflict(error)) if tries >= CONFLICT_ATTEMPTS => {
                return Err(error
                    .context(format!("still conflicting after {tries} attempts"))
                    .into());
            }
            Err(Failure::Conflict(_)) => {
                let backoff = backoff(tries);
                tracing::debug!(
                    tries,
                    ?backoff,
                    "write conflicted with a transaction; retrying"
                );
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

/// Equal jitter: half the exponential step, plus up to the other half at random, so racing
/// writers spread out.
fn backoff(tries: u32) -> Duration {
    let step = BASE_BACKOFF * 2u32.saturating_pow(tries.saturating_sub(1));
    let mut noise = [0u8; 2];
    // Without randomness the backoff is merely unjittered: still correct.
    let _ = getrandom::fill(&mut noise);
    let fraction = f64::from(u16::from_le_bytes(noise)) / f64::from(u16::MAX);
    step / 2 + step.mul_f64(fraction / 2.0)
}

impl DynamoStore {
    pub(super) async fn transact_writes(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        if writes.len() > MAX_TRANSACTION_WRITES {
            return Err(anyhow!(
                "a transaction holds at most {MAX_TRANSACTION_WRITES} writes, not {}",
                writes.len()
            )
            .into());
        }
        retrying_conflicts(|| self.transact_once(&writes)).await
    }

    async fn transact_once(&self, writes: &[Write]) -> Result<(), Failure> {
        let now = self.now();
        let items = writes
            .iter()
            .map(|w| self.transact_item(w, now))
            .collect::<Result<Vec<_>, _>>()?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let Err(err) = result else { return Ok(()) };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        {
            let codes: Vec<Option<&str>> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code())
                .collect();
            if let Some(index) = codes
                .iter()
                .position(|c| *c == Some("ConditionalCheckFailed"))
            {
                return Err(Failure::Store(StoreError::ConditionFailed { index }));
            }
            if codes.contains(&Some("TransactionConflict")) {
                return Err(Failure::Conflict(err.into()));
            }
        }
        Err(Failure::Store(unexpected(err, "writing a transaction")))
    }

    fn transact_item(&self, write: &Write, now: i64) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expression::default();
        let item = match write {
            Write::Put { item, condition } => {
                let condition = condition
                    .as_ref()
                    .map(|c| e.condition(c, now))
                    .transpose()?;
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(encode(item)?))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .context("building a transactional put")?;
                TransactWriteItem::builder().put(put)
            }
            Write::Delete { key, condition } => {
                let condition = condition
                    .as_ref()
                    .map(|c| e.condition(c, now))
                    .transpose()?;
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(key)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .context("building a transactional delete")?;
                TransactWriteItem::builder().delete(delete)
            }
            Write::Check { key, condition } => {
                let condition = e.condition(condition, now)?;
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(key)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .context("building a transactional check")?;
                TransactWriteItem::builder().condition_check(check)
            }
        };
        Ok(item.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn a_conflicting_write_is_tried_again_until_it_succeeds() {
        let calls = Cell::new(0);
        let result = retrying_conflicts(|| {
            calls.set(calls.get() + 1);
            let conflict = calls.get() < 3;
            async move {
                if conflict {
                    Err(Failure::Conflict(anyhow!("conflict")))
                } else {
                    Ok(7)
                }
            }
        })
        .await;
        assert_eq!((result.ok(), calls.get()), (Some(7), 3));
    }

    #[tokio::test]
    async fn a_write_that_keeps_conflicting_gives_up() {
        let calls = Cell::new(0);
        let result: Result<(), _> = retrying_conflicts(|| {
            calls.set(calls.get() + 1);
            async { Err(Failure::Conflict(anyhow!("conflict"))) }
        })
        .await;
        assert!(matches!(result, Err(StoreError::Unexpected(_))));
        assert_eq!(calls.get(), CONFLICT_ATTEMPTS);
    }

    #[tokio::test]
    async fn a_failed_condition_is_not_retried() {
        let calls = Cell::new(0);
        let result: Result<(), _> = retrying_conflicts(|| {
            calls.set(calls.get() + 1);
            async { Err(Failure::Store(StoreError::ConditionFailed { index: 0 })) }
        })
        .await;
        assert!(matches!(
            result,
            Err(StoreError::ConditionFailed { index: 0 })
        ));
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn backoff_grows_and_stays_jittered_within_its_step() {
        for tries in 1..=4 {
            let step = BASE_BACKOFF * 2u32.pow(tries - 1);
            let b = backoff(tries);
            assert!(b >= step / 2 && b <= step, "{b:?} outside {step:?}");
        }
    }
}
