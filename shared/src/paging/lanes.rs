//! Pages merged from several index partitions ("lanes"), newest first.
//!
//! A sharded index spreads one list over several partitions so no one key takes every write;
//! reading it back means reading each lane newest first, a few entries at a time, and
//! merging them by sort key. Only the lanes that may hold the next entry are read again, so a
//! page of `limit` costs about `limit + 2 × lanes` entries read, and never more than
//! [`Merge::max_read`]: a page under a filter that keeps little may come back short, with a
//! position to go on from. The position says where each lane stopped.

use std::collections::VecDeque;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::store::{Cursor, Index, ItemStore, Query, SortKey, StoreError};

/// Where one lane stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resume {
    Start,
    /// After this sort key (the last entry read past).
    After(String),
    Done,
}

/// One merged read: the index, its lanes and where each stands.
pub struct Merge<'a, T> {
    pub store: &'a dyn ItemStore,
    pub index: Index,
    /// The lanes' partition keys, in a fixed order (the position lists them in it).
    pub partitions: Vec<String>,
    /// Where each lane stands: all [`Resume::Start`] for a first page.
    pub resume: Vec<Resume>,
    pub limit: usize,
    /// The most entries one page reads, kept or not.
    pub max_read: usize,
    /// The index sort key of a record.
    pub sort_key: fn(&T) -> String,
    /// Which records the page keeps; the others are read past.
    pub keep: &'a (dyn Fn(&T) -> bool + Sync),
}

impl<T> std::fmt::Debug for Merge<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Merge")
            .field("index", &self.index)
            .field("partitions", &self.partitions)
            .field("resume", &self.resume)
            .field("limit", &self.limit)
            .field("max_read", &self.max_read)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send> Merge<'_, T> {
    /// One page, newest first, and where each lane stands after it (every lane
    /// [`Resume::Done`] at the end).
    pub async fn page(self) -> Result<(Vec<T>, Vec<Resume>), StoreError> {
        let chunk = self.limit.div_ceil(self.partitions.len().max(1)) + 2;
        let mut lanes: Vec<Lane<T>> = self
            .partitions
            .into_iter()
            .zip(self.resume)
            .map(|(pk, resume)| Lane::new(pk, resume))
            .collect();
        let (mut kept, mut read) = (Vec::with_capacity(self.limit), 0);
        while kept.len() < self.limit && read < self.max_read {
            // Every lane that may hold the next entry must show its head before one is chosen.
            let refills = lanes
                .iter_mut()
                .filter(|lane| lane.buffer.is_empty() && lane.more)
                .map(|lane| lane.refill(self.store, self.index, chunk));
            futures_util::future::try_join_all(refills).await?;
            let newest = lanes
                .iter_mut()
                .filter(|lane| !lane.buffer.is_empty())
                .max_by(|a, b| a.head(self.sort_key).cmp(&b.head(self.sort_key)));
            let Some(lane) = newest else { break };
            if let Some(record) = lane.buffer.pop_front() {
                read += 1;
                lane.resume = Resume::After((self.sort_key)(&record));
                if (self.keep)(&record) {
                    kept.push(record);
                }
            }
        }
        let resume = lanes
            .into_iter()
            .map(|lane| {
                if lane.buffer.is_empty() && !lane.more {
                    Resume::Done
                } else {
                    lane.resume
                }
            })
            .collect();
        Ok((kept, resume))
    }
}

struct Lane<T> {
    pk: String,
    /// Where this lane stands for the position: the last entry read past.
    resume: Resume,
    /// What this request reads of the lane: from where the previous page stopped.
    read_from: SortKey,
    /// The store's cursor past what was read so far in this request.
    next_read: Option<Cursor>,
    buffer: VecDeque<T>,
    /// Whether the store may hold more past what was read.
    more: bool,
}

impl<T: DeserializeOwned> Lane<T> {
    fn new(pk: String, resume: Resume) -> Self {
        let read_from = match &resume {
            Resume::After(key) => SortKey::LessThan(key.clone()),
            Resume::Start | Resume::Done => SortKey::Any,
        };
        Self {
            pk,
            more: resume != Resume::Done,
            resume,
            read_from,
            next_read: None,
            buffer: VecDeque::new(),
        }
    }

    /// Reads the next chunk, once the buffer is empty: everything read so far was read past,
    /// so the store's cursor is exactly where to go on.
    async fn refill(
        &mut self,
        store: &dyn ItemStore,
        index: Index,
        chunk: usize,
    ) -> Result<(), StoreError> {
        let query = Query::index(index, self.pk.clone())
            .sort_key(self.read_from.clone())
            .descending()
            .limit(chunk)
            .after(self.next_read.take());
        let page = store.query(query).await?;
        for item in &page.items {
            self.buffer.push_back(item.record()?);
        }
        // A page may be short, even empty, while more follow (expired items are filtered
        // after the read): only the absence of a cursor ends the lane.
        self.more = page.next.is_some();
        self.next_read = page.next;
        Ok(())
    }

    fn head(&self, sort_key: fn(&T) -> String) -> Option<String> {
        self.buffer.front().map(sort_key)
    }
}
