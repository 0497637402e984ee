//! An item store that shows every call to an [`Observer`] before passing it on: what the
//! tests and benchmarks count, record, reorder or fail calls with, without each of them
//! repeating the store's whole interface.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Condition, Item, ItemStore, Key, Page, Query, StoreError, Write};

/// One call to an item store, as its arguments.
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    Get {
        key: &'a Key,
    },
    Put {
        item: &'a Item,
        condition: Option<&'a Condition>,
    },
    Delete {
        key: &'a Key,
        condition: Option<&'a Condition>,
    },
    Transact {
        writes: &'a [Write],
        /// Through [`ItemStore::transact_fail_safe`].
        fail_safe: bool,
    },
    Add {
        key: &'a Key,
        attribute: &'a str,
        delta: i64,
    },
    Query {
        query: &'a Query,
    },
    PurgeExpired {
        limit: usize,
    },
}

impl Call<'_> {
    /// The method's name: `get`, `put`, `delete`, `transact`, `add`, `query`, `purge_expired`.
    pub fn method(&self) -> &'static str {
        match self {
            Call::Get { .. } => "get",
            Call::Put { .. } => "put",
            Call::Delete { .. } => "delete",
            Call::Transact { .. } => "transact",
            Call::Add { .. } => "add",
            Call::Query { .. } => "query",
            Call::PurgeExpired { .. } => "purge_expired",
        }
    }
}

/// What an [`Observed`] store shows its calls to.
#[async_trait]
pub trait Observer: Send + Sync {
    /// Sees `call` before the store does. An error fails the call with it, and the store never
    /// sees the call.
    async fn before(&self, call: Call<'_>) -> Result<(), StoreError>;

    /// Hears that a call of `method` succeeded. An error fails the call with it all the same,
    /// as a write whose answer was lost would (the store has done it).
    async fn after(&self, method: &'static str) -> Result<(), StoreError> {
        let _ = method;
        Ok(())
    }
}

/// `inner`, with every call shown to an observer first.
#[derive(Clone)]
pub struct Observed {
    inner: Arc<dyn ItemStore>,
    observer: Arc<dyn Observer>,
}

impl Observed {
    pub fn new(inner: Arc<dyn ItemStore>, observer: Arc<dyn Observer>) -> Self {
        Self { inner, observer }
    }
}

impl fmt::Debug for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observed")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ItemStore for Observed {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.observer.before(Call::Get { key }).await?;
        let got = self.inner.get(key).await?;
        self.observer.after("get").await?;
        Ok(got)
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        let call = Call::Put {
            item: &item,
            condition: condition.as_ref(),
        };
        self.observer.before(call).await?;
        self.inner.put(item, condition).await?;
        self.observer.after("put").await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError> {
        let call = Call::Delete {
            key,
            condition: condition.as_ref(),
        };
        self.observer.before(call).await?;
        self.inner.delete(key, condition).await?;
        self.observer.after("delete").await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let call = Call::Transact {
            writes: &writes,
            fail_safe: false,
        };
        self.observer.before(call).await?;
        self.inner.transact(writes).await
    }

    async fn transact_fail_safe(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let call = Call::Transact {
            writes: &writes,
            fail_safe: true,
        };
        self.observer.before(call).await?;
        self.inner.transact_fail_safe(writes).await
    }

    async fn add(
        &self,
        key: &Key,
        attribute: &str,
        delta: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError> {
        let call = Call::Add {
            key,
            attribute,
            delta,
        };
        self.observer.before(call).await?;
        let total = self.inner.add(key, attribute, delta, expires_at).await?;
        self.observer.after("add").await?;
        Ok(total)
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.observer.before(Call::Query { query: &query }).await?;
        let page = self.inner.query(query).await?;
        self.observer.after("query").await?;
        Ok(page)
    }

    async fn purge_expired(&self, limit: usize) -> Result<usize, StoreError> {
        self.observer.before(Call::PurgeExpired { limit }).await?;
        let purged = self.inner.purge_expired(limit).await?;
        self.observer.after("purge_expired").await?;
        Ok(purged)
    }
}
