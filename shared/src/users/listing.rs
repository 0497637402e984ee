//! Listing users a page at a time, newest first, optionally by status or by a search.
//!
//! Every page costs a bounded amount whatever the size of the table:
//!
//! - **Browsing** (no `q`) reads the sharded `gsi1` lanes of the statuses asked for (8 per
//!   status), a few entries from each at a time, and merges them by creation time: about
//!   `limit + 2 × lanes` entries read per page, a little more when the newest users sit in few
//!   lanes. The cursor holds where each lane stopped.
//! - **Searching** (`q`, see [`crate::users::search`]) reads one partition of search entries,
//!   at most `limit` of them, then the users they name (one read each, in parallel). Entries
//!   come in token order; a page may hold fewer than `limit` users (a status filter, a user
//!   found through two tokens) while `next` still says more follow.
//!
//! Cursors are sealed ([`crate::paging`]) with the query's filters, so one cannot be forged,
//! or replayed under other filters.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::paging::{CursorKey, InvalidCursor};
use crate::store::{Cursor, Index, Query, SortKey, StoreError};
use crate::users::repo::{LIST_SHARDS, by_creation, list_partition};
use crate::users::search::{Entry, SearchText, search_partition};
use crate::users::{User, UserRepo, UserStatus};

pub const MAX_LIMIT: usize = 100;

/// What a page is asked for.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub status: Option<UserStatus>,
    pub q: Option<SearchText>,
    /// 1..=[`MAX_LIMIT`].
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ListPage {
    pub users: Vec<User>,
    /// The sealed cursor of the next page; `None` at the end.
    pub next: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    InvalidCursor(#[from] InvalidCursor),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where one lane of the browse stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Resume {
    Start,
    /// After this sort key (the last user given out).
    After(String),
    Done,
}

impl ListRequest {
    /// The scope cursors of this query are sealed for: everything but the limit.
    fn scope(&self) -> String {
        let status = match self.status {
            Some(UserStatus::Active) => "active",
            Some(UserStatus::Disabled) => "disabled",
            None => "",
        };
        let q = self.q.as_ref().map_or("", SearchText::as_str);
        format!("users?status={status}&q={q}")
    }

    fn statuses(&self) -> Vec<UserStatus> {
        match self.status {
            Some(status) => vec![status],
            None => vec![UserStatus::Active, UserStatus::Disabled],
        }
    }
}

impl UserRepo {
    /// One page of users (see the module documentation).
    pub async fn list(
        &self,
        key: &CursorKey,
        request: &ListRequest,
    ) -> Result<ListPage, ListError> {
        let limit = request.limit.clamp(1, MAX_LIMIT);
        let scope = request.scope();
        match &request.q {
            Some(q) => {
                let after = match &request.cursor {
                    Some(cursor) => Some(Cursor(key.open::<String>(&scope, cursor)?)),
                    None => None,
                };
                let (users, next) = self.search(q, request.status, limit, after).await?;
                Ok(ListPage {
                    users,
                    next: next.map(|c| key.seal(&scope, &c.0)),
                })
            }
            None => {
                let lanes = request.statuses().len() * usize::from(LIST_SHARDS);
                let resume = match &request.cursor {
                    Some(cursor) => {
                        let resume: Vec<Resume> = key.open(&scope, cursor)?;
                        if resume.len() != lanes {
                            return Err(InvalidCursor.into());
                        }
                        resume
                    }
                    None => vec![Resume::Start; lanes],
                };
                let (users, resume) = self.browse(request, limit, resume).await?;
                let next = resume
                    .iter()
                    .any(|r| *r != Resume::Done)
                    .then(|| key.seal(&scope, &resume));
                Ok(ListPage { users, next })
            }
        }
    }

    async fn browse(
        &self,
        request: &ListRequest,
        limit: usize,
        resume: Vec<Resume>,
    ) -> Result<(Vec<User>, Vec<Resume>), StoreError> {
        let partitions: Vec<String> = request
            .statuses()
            .into_iter()
            .flat_map(|status| (0..LIST_SHARDS).map(move |shard| list_partition(status, shard)))
            .collect();
        let chunk = limit.div_ceil(partitions.len()) + 2;
        let mut lanes: Vec<Lane> = partitions
            .into_iter()
            .zip(resume)
            .map(|(pk, resume)| Lane::new(pk, resume))
            .collect();
        let mut users = Vec::with_capacity(limit);
        while users.len() < limit {
            // Every lane that may hold the next user must show its head before one is chosen.
            let refills = lanes
                .iter_mut()
                .filter(|lane| lane.buffer.is_empty() && lane.more)
                .map(|lane| lane.refill(self, chunk));
            futures_util::future::try_join_all(refills).await?;
            let newest = lanes
                .iter_mut()
                .filter(|lane| !lane.buffer.is_empty())
                .max_by(|a, b| a.head_key().cmp(&b.head_key()));
            let Some(lane) = newest else { break };
            if let Some(user) = lane.buffer.pop_front() {
                lane.resume = Resume::After(by_creation(&user));
                users.push(user);
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
        Ok((users, resume))
    }

    async fn search(
        &self,
        q: &SearchText,
        status: Option<UserStatus>,
        limit: usize,
        after: Option<Cursor>,
    ) -> Result<(Vec<User>, Option<Cursor>), StoreError> {
        let word = q.index_word();
        let query = Query::partition(search_partition(word))
            .sort_key(SortKey::BeginsWith(word.to_owned()))
            .limit(limit)
            .after(after);
        let page = self.store().query(query).await?;
        let mut ids = Vec::new();
        let mut seen = BTreeSet::new();
        for item in &page.items {
            let entry: Entry = item.record()?;
            if seen.insert(entry.user_id) {
                ids.push(entry.user_id);
            }
        }
        let reads = ids.iter().map(|id: &Uuid| self.get(*id));
        let users = futures_util::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
            .filter(|user| status.is_none_or(|s| user.status == s) && q.matches(user))
            .collect();
        Ok((users, page.next))
    }
}

/// One shard of one status, read newest first a chunk at a time.
struct Lane {
    pk: String,
    /// Where this lane stands for the cursor: the last user given out.
    resume: Resume,
    /// What this request reads of the lane: from where the previous page stopped.
    read_from: SortKey,
    /// The store's cursor past what was read so far in this request.
    next_read: Option<Cursor>,
    buffer: VecDeque<User>,
    /// Whether the store may hold more past what was read.
    more: bool,
}

impl Lane {
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

    /// Reads the next chunk, once the buffer is empty: everything read so far was given out,
    /// so the store's cursor is exactly where to go on.
    async fn refill(&mut self, users: &UserRepo, chunk: usize) -> Result<(), StoreError> {
        let query = Query::index(Index::Gsi1, self.pk.clone())
            .sort_key(self.read_from.clone())
            .descending()
            .limit(chunk)
            .after(self.next_read.take());
        let page = users.store().query(query).await?;
        for item in &page.items {
            self.buffer.push_back(item.record()?);
        }
        // A page may be short, even empty, while more follow (expired items are filtered
        // after the read): only the absence of a cursor ends the lane.
        self.more = page.next.is_some();
        self.next_read = page.next;
        Ok(())
    }

    fn head_key(&self) -> Option<String> {
        self.buffer.front().map(by_creation)
    }
}
