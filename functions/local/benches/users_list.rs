//! Listing and searching users on the local system with 10,000 of them: time per page (p50,
//! p99) and what each page costs the store (queries, reads, entries read), for browsing, a
//! status filter and searches of common and rare prefixes.
//!
//! `cargo bench -p local-system --bench users_list -- [USERS] [RUNS]` (defaults: 10000, 200).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use infra::compose::{Backend, LocalBackend};
use infra::config::LocalConfig;
use shared::paging::CursorKey;
use shared::store::{Condition, Item, ItemStore, Key, Page, Query, StoreError, Write};
use shared::users::listing::ListRequest;
use shared::users::repo::insert_writes;
use shared::users::search::SearchText;
use shared::users::{Email, Name, PasswordHash, User, UserRepo, UserStatus};

const FIRST: &[&str] = &[
    "ada", "grace", "alan", "edsger", "barbara", "donald", "margaret", "ken", "dennis", "frances",
    "john", "radia", "tim", "linus", "guido", "bjarne", "niklaus", "leslie", "shafi", "silvio",
];
const LAST: &[&str] = &[
    "lovelace",
    "hopper",
    "turing",
    "dijkstra",
    "liskov",
    "knuth",
    "hamilton",
    "thompson",
    "ritchie",
    "allen",
    "mccarthy",
    "perlman",
    "berners",
    "torvalds",
    "rossum",
    "stroustrup",
    "wirth",
    "lamport",
    "goldwasser",
    "micali",
    "zuse",
];

/// Counts what the store is asked and gives back.
#[derive(Debug, Default)]
struct Tally {
    queries: AtomicUsize,
    gets: AtomicUsize,
    entries: AtomicUsize,
}

#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ItemStore>,
    tally: Arc<Tally>,
}

#[async_trait]
impl ItemStore for Counting {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.tally.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.transact(writes).await
    }
    async fn add(
        &self,
        key: &Key,
        attribute: &str,
        delta: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError> {
        self.inner.add(key, attribute, delta, expires_at).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.tally.queries.fetch_add(1, Ordering::Relaxed);
        let page = self.inner.query(query).await?;
        self.tally
            .entries
            .fetch_add(page.items.len(), Ordering::Relaxed);
        Ok(page)
    }
    async fn purge_expired(&self, limit: usize) -> Result<usize, StoreError> {
        self.inner.purge_expired(limit).await
    }
}

fn user(n: usize, start: DateTime<Utc>) -> User {
    let (first, last) = (FIRST[n % FIRST.len()], LAST[(n / FIRST.len()) % LAST.len()]);
    let at = start + TimeDelta::milliseconds(n as i64);
    User {
        id: uuid::Uuid::now_v7(),
        email: Email::parse(&format!("{first}.{last}{n}@example.com")).unwrap(),
        name: Name::parse(&format!("{first} {last}")).unwrap(),
        phone: None,
        // One user in twenty is disabled.
        status: if n.is_multiple_of(20) {
            UserStatus::Disabled
        } else {
            UserStatus::Active
        },
        email_verified: true,
        password_hash: PasswordHash("$argon2id$bench".into()),
        token_version: 0,
        avatar_url: None,
        avatar_key: None,
        created_at: at,
        updated_at: at,
        version: 0,
    }
}

struct Case {
    label: &'static str,
    request: ListRequest,
    /// Pages walked per run (following the cursor).
    pages: usize,
}

fn request(limit: usize, status: Option<UserStatus>, q: Option<&str>) -> ListRequest {
    ListRequest {
        status,
        q: q.map(|q| SearchText::parse(q).unwrap()),
        limit,
        cursor: None,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let count = args.first().copied().unwrap_or(10_000);
    let runs = args.get(1).copied().unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let backend =
        LocalBackend::open_default(LocalConfig::new(dir.path(), "http://localhost")).await?;
    let store = backend.store()?;

    let loading = Instant::now();
    let start = Utc::now() - TimeDelta::days(30);
    let mut writes = Vec::new();
    for n in 0..count {
        let user = user(n, start);
        let mine = insert_writes(&user, &[])?;
        if writes.len() + mine.len() > shared::store::MAX_TRANSACTION_WRITES {
            store.transact(std::mem::take(&mut writes)).await?;
        }
        writes.extend(mine);
    }
    store.transact(writes).await?;
    println!(
        "{count} users stored in {:.1} s; {runs} runs per case\n",
        loading.elapsed().as_secs_f64()
    );

    let tally = Arc::new(Tally::default());
    let counting: Arc<dyn ItemStore> = Arc::new(Counting {
        inner: store,
        tally: tally.clone(),
    });
    let users = UserRepo::new(counting);
    let key = CursorKey::from_secret("bench");
    let cases = [
        Case {
            label: "browse, limit 20",
            request: request(20, None, None),
            pages: 1,
        },
        Case {
            label: "browse, limit 100",
            request: request(100, None, None),
            pages: 1,
        },
        Case {
            label: "browse, 10 pages of 100",
            request: request(100, None, None),
            pages: 10,
        },
        Case {
            label: "status=disabled, limit 20",
            request: request(20, Some(UserStatus::Disabled), None),
            pages: 1,
        },
        Case {
            label: "q=ada (1 user in 20), limit 20",
            request: request(20, None, Some("ada")),
            pages: 1,
        },
        Case {
            label: "q=ada lovelace, limit 20",
            request: request(20, None, Some("ada lovelace")),
            pages: 1,
        },
        Case {
            label: "q=zuse (rare), limit 20",
            request: request(20, None, Some("zuse")),
            pages: 1,
        },
        Case {
            label: "q=grace.hopper2 (an address)",
            request: request(20, None, Some("grace.hopper2")),
            pages: 1,
        },
    ];
    println!(
        "| case | p50 per page | p99 per page | users per page | queries | gets | entries read |"
    );
    println!("|---|---|---|---|---|---|---|");
    for case in &cases {
        let mut times = Vec::with_capacity(runs * case.pages);
        let (mut found, mut pages_read) = (0, 0);
        tally.queries.store(0, Ordering::Relaxed);
        tally.gets.store(0, Ordering::Relaxed);
        tally.entries.store(0, Ordering::Relaxed);
        for _ in 0..runs {
            let mut request = case.request.clone();
            for _ in 0..case.pages {
                let began = Instant::now();
                let page = users.list(&key, &request).await?;
                times.push(began.elapsed());
                found += page.users.len();
                pages_read += 1;
                match page.next {
                    Some(next) => request.cursor = Some(next),
                    None => break,
                }
            }
        }
        times.sort();
        let per = |n: usize| n as f64 / pages_read as f64;
        println!(
            "| {} | {:.2} ms | {:.2} ms | {:.1} | {:.1} | {:.1} | {:.1} |",
            case.label,
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            per(found),
            per(tally.queries.load(Ordering::Relaxed)),
            per(tally.gets.load(Ordering::Relaxed)),
            per(tally.entries.load(Ordering::Relaxed)),
        );
    }
    Ok(())
}
