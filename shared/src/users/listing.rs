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

use std::collections::BTreeSet;

use uuid::Uuid;

pub use crate::paging::ListError;
use crate::paging::lanes::{Merge, Resume};
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

fn statuses(status: Option<UserStatus>) -> Vec<UserStatus> {
    match status {
        Some(status) => vec![status],
        None => vec![UserStatus::Active, UserStatus::Disabled],
    }
}

/// Where a walk through every user stands: `None` before the first page.
pub type WalkPosition = Option<Vec<Resume>>;

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
        statuses(self.status)
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
                let (users, resume) = self.browse(request.status, limit, resume).await?;
                let next = resume
                    .iter()
                    .any(|r| *r != Resume::Done)
                    .then(|| key.seal(&scope, &resume));
                Ok(ListPage { users, next })
            }
        }
    }

    /// One page of a walk through every user (of a status), newest first, for the system's
    /// own use (an export): the position is not sealed. Returns the page and where the walk
    /// stands after it, `None` at the end.
    pub async fn walk(
        &self,
        status: Option<UserStatus>,
        limit: usize,
        position: WalkPosition,
    ) -> Result<(Vec<User>, WalkPosition), StoreError> {
        let lanes = statuses(status).len() * usize::from(LIST_SHARDS);
        let resume = position.unwrap_or_else(|| vec![Resume::Start; lanes]);
        let (users, resume) = self.browse(status, limit, resume).await?;
        let more = resume.iter().any(|r| *r != Resume::Done);
        Ok((users, more.then_some(resume)))
    }

    async fn browse(
        &self,
        status: Option<UserStatus>,
        limit: usize,
        resume: Vec<Resume>,
    ) -> Result<(Vec<User>, Vec<Resume>), StoreError> {
        let partitions = statuses(status)
            .into_iter()
            .flat_map(|status| (0..LIST_SHARDS).map(move |shard| list_partition(status, shard)))
            .collect();
        Merge {
            store: self.store().as_ref(),
            index: Index::Gsi1,
            partitions,
            resume,
            limit,
            max_read: limit,
            sort_key: by_creation,
            keep: &|_| true,
        }
        .page()
        .await
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
