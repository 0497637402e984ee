//! The item store port: the subset of DynamoDB's semantics the domain relies on.
//!
//! One table of items addressed by a partition key (`pk`) and a sort key (`sk`). Items may carry
//! keys for two general-purpose secondary indexes ([`Index::Gsi1`], [`Index::Gsi2`]) and an
//! expiry time. Every other attribute lives in [`Item::attrs`], a JSON object whose top-level
//! fields are stored as top-level attributes (so conditions and stream images can see them).
//!
//! # Expiry
//!
//! An item whose [`Item::expires_at`] is at or before the store's clock is *expired*, and an
//! expired item is absent in every respect: [`ItemStore::get`] returns `None`, queries skip it,
//! [`Condition::Absent`] holds over it, [`Condition::Present`] fails, and a put replaces it. This
//! is what callers must be able to rely on, because DynamoDB's own TTL deletion lags by up to 48
//! hours. [`ItemStore::purge_expired`] removes expired items eagerly.
//!
//! # Conditions and errors
//!
//! A write whose condition does not hold changes nothing and returns
//! [`StoreError::ConditionFailed`] with the index of the failing write (0 for single writes).
//! A transaction applies all of its writes or none. Anything else the backend reports is
//! [`StoreError::Unexpected`], with its cause chain intact.
//!
//! # Change feed
//!
//! Every committed insert, modify and remove (expiry included) appears on the store's change
//! feed with the old and new item: DynamoDB Streams (`NEW_AND_OLD_IMAGES`) on AWS, a durable
//! feed written in the same transaction locally. The feed is read by the event runtime, not
//! through this trait.

pub mod observed;
pub mod wire;

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Attribute names the store uses for itself; [`Item::attrs`] may not use them.
pub const RESERVED_ATTRIBUTES: &[&str] = &[
    "pk",
    "sk",
    "gsi1pk",
    "gsi1sk",
    "gsi2pk",
    "gsi2sk",
    "ttl",
    "exp_shard",
];

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// A secondary index. Both are overloaded (single-table design): each entity decides what its
/// index keys mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    Gsi1,
    Gsi2,
}

impl Index {
    /// The index name, as created in the table (`gsi1`, `gsi2`).
    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1",
            Index::Gsi2 => "gsi2",
        }
    }

    /// The partition and sort key attribute names of this index.
    pub fn key_attributes(self) -> (&'static str, &'static str) {
        match self {
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            Index::Gsi2 => ("gsi2pk", "gsi2sk"),
        }
    }
}

/// The keys of an item in one secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKey {
    pub pk: String,
    pub sk: String,
}

impl IndexKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// One stored item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Key,
    pub gsi1: Option<IndexKey>,
    pub gsi2: Option<IndexKey>,
    /// When the item stops existing (second precision).
    pub expires_at: Option<DateTime<Utc>>,
    /// The item's own attributes. Field names must not be in [`RESERVED_ATTRIBUTES`].
    pub attrs: Map<String, Value>,
}

impl Item {
    pub fn new(key: Key, attrs: Map<String, Value>) -> Self {
        Self {
            key,
            gsi1: None,
            gsi2: None,
            expires_at: None,
            attrs,
        }
    }

    /// Builds an item from any serializable record that serializes to a JSON object.
    pub fn from_record<T: serde::Serialize>(key: Key, record: &T) -> Result<Self, StoreError> {
        match serde_json::to_value(record) {
            Ok(Value::Object(attrs)) => Ok(Self::new(key, attrs)),
            Ok(other) => Err(StoreError::Unexpected(anyhow::anyhow!(
                "a record must serialize to a JSON object, not {other}"
            ))),
            Err(e) => Err(StoreError::Unexpected(e.into())),
        }
    }

    /// Reads the attributes back as a record.
    pub fn record<T: serde::de::DeserializeOwned>(&self) -> Result<T, StoreError> {
        // From the attributes in place, without copying the map first.
        T::deserialize(&self.attrs).map_err(|e| not_a_record(&self.key, e))
    }

    /// [`Item::record`], consuming the item: its strings move into the record instead of being
    /// copied. Every authenticated request reads its caller this way.
    pub fn into_record<T: serde::de::DeserializeOwned>(self) -> Result<T, StoreError> {
        let Item { key, attrs, .. } = self;
        T::deserialize(Value::Object(attrs)).map_err(|e| not_a_record(&key, e))
    }

    pub fn with_index(mut self, index: Index, key: IndexKey) -> Self {
        match index {
            Index::Gsi1 => self.gsi1 = Some(key),
            Index::Gsi2 => self.gsi2 = Some(key),
        }
        self
    }

    pub fn expiring_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    pub fn index_key(&self, index: Index) -> Option<&IndexKey> {
        match index {
            Index::Gsi1 => self.gsi1.as_ref(),
            Index::Gsi2 => self.gsi2.as_ref(),
        }
    }

    /// Whether the item is expired at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at
            .is_some_and(|at| at.timestamp() <= now.timestamp())
    }

    /// Checks that no attribute uses a reserved name.
    pub fn check_attribute_names(&self) -> Result<(), StoreError> {
        match self
            .attrs
            .keys()
            .find(|k| RESERVED_ATTRIBUTES.contains(&k.as_str()))
        {
            Some(name) => Err(StoreError::Unexpected(anyhow::anyhow!(
                "attribute name {name:?} is reserved by the store"
            ))),
            None => Ok(()),
        }
    }
}

/// A condition on the current state of one item, checked atomically with the write.
///
/// Every condition but [`Condition::Absent`] also requires the item to be present (not missing,
/// not expired).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item does not exist or is expired.
    Absent,
    /// The item exists and is not expired.
    Present,
    /// The item is present and its top-level attribute equals the value.
    Equals(String, Value),
    /// The item is present and does not have the attribute.
    Missing(String),
    /// Every condition holds.
    All(Vec<Condition>),
}

/// One write of a transaction (or a single write).
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Creates or replaces the item.
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    /// Removes the item; removing a missing item is not an error unless a condition says so.
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Writes nothing; fails the transaction when the condition does not hold.
    Check { key: Key, condition: Condition },
}

impl Write {
    pub fn put(item: Item) -> Self {
        Write::Put {
            item,
            condition: None,
        }
    }

    pub fn put_if(item: Item, condition: Condition) -> Self {
        Write::Put {
            item,
            condition: Some(condition),
        }
    }

    pub fn delete(key: Key) -> Self {
        Write::Delete {
            key,
            condition: None,
        }
    }

    pub fn delete_if(key: Key, condition: Condition) -> Self {
        Write::Delete {
            key,
            condition: Some(condition),
        }
    }

    pub fn check(key: Key, condition: Condition) -> Self {
        Write::Check { key, condition }
    }

    pub fn key(&self) -> &Key {
        match self {
            Write::Put { item, .. } => &item.key,
            Write::Delete { key, .. } | Write::Check { key, .. } => key,
        }
    }
}

/// Which sort keys a query selects, compared as UTF-8 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Any,
    Equals(String),
    BeginsWith(String),
    /// Inclusive on both ends.
    Between(String, String),
    LessThan(String),
    GreaterThan(String),
}

/// A query over one partition of the table or of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub index: Option<Index>,
    pub pk: String,
    pub sk: SortKey,
    /// At most this many items per page (1..=1000).
    pub limit: usize,
    /// Newest (largest sort key) first.
    pub descending: bool,
    pub cursor: Option<Cursor>,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Self {
            index: None,
            pk: pk.into(),
            sk: SortKey::Any,
            limit: 100,
            descending: false,
            cursor: None,
        }
    }

    pub fn index(index: Index, pk: impl Into<String>) -> Self {
        Self {
            index: Some(index),
            ..Self::partition(pk)
        }
    }

    pub fn sort_key(mut self, sk: SortKey) -> Self {
        self.sk = sk;
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// Where the next page of a query starts. Opaque, URL-safe, and only meaningful to the store
/// (and the query) that issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One page of a query.
///
/// A page may hold fewer than `limit` items (expired items are filtered after the read) even
/// when more follow: only `next == None` means the end.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The condition of the write at `index` (0 for a single write) did not hold; nothing was
    /// written.
    #[error("the condition of write {index} did not hold")]
    ConditionFailed { index: usize },
    /// A cursor that this store did not issue, or issued for another query.
    #[error("invalid cursor")]
    InvalidCursor,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl StoreError {
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, StoreError::ConditionFailed { .. })
    }
}

/// The most writes one transaction may hold (DynamoDB's limit).
pub const MAX_TRANSACTION_WRITES: usize = 100;

/// The item store. See the module documentation for the semantics every implementation keeps.
#[async_trait]
pub trait ItemStore: Send + Sync + fmt::Debug {
    /// The item, or `None` when it is missing or expired. Reads are strongly consistent.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Creates or replaces an item, if the condition holds.
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError>;

    /// Removes an item, if the condition holds. Removing a missing item succeeds.
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError>;

    /// Applies every write or none, atomically. At most [`MAX_TRANSACTION_WRITES`] writes, and
    /// no two on the same key.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;

    /// [`Self::transact`], for writes whose loss fails safe if the machine loses power just
    /// after they return: a new session, whose tokens are refused without it. A store may
    /// commit them without waiting for the disk (the local store does: a login is then its
    /// password hash and little else); they still outlive the process, and apply all or none.
    /// DynamoDB has one durability and commits them as any other.
    async fn transact_fail_safe(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.transact(writes).await
    }

    /// Adds `delta` to a numeric attribute, creating the item (and the attribute, from zero)
    /// when it is missing or expired, and returns the new value. `expires_at` is set when the
    /// item is created and left alone otherwise, so a counter keeps its window.
    async fn add(
        &self,
        key: &Key,
        attribute: &str,
        delta: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError>;

    /// One page of items of a partition, in sort key order. Index queries are eventually
    /// consistent on AWS.
    async fn query(&self, query: Query) -> Result<Page, StoreError>;

    /// Removes up to `limit` items that are expired and returns how many it removed. Each
    /// removal appears on the change feed.
    async fn purge_expired(&self, limit: usize) -> Result<usize, StoreError>;
}

fn not_a_record(key: &Key, error: serde_json::Error) -> StoreError {
    StoreError::Unexpected(anyhow::Error::new(error).context(format!(
        "item {}/{} does not hold the expected record",
        key.pk, key.sk
    )))
}
