//! Query cases: byte order, sort key conditions, index order, cursors, expiry.

use serde_json::json;
use shared::store::{Cursor, Index, Item, Query, SortKey, StoreError};

use super::{StoreCtx, future, past};

/// Every item of a query, following cursors; fails on a loop.
async fn all(ctx: &StoreCtx, query: Query) -> anyhow::Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..1000 {
        let page = ctx.store.query(query.clone().after(cursor)).await?;
        assert!(
            page.items.len() <= query.limit,
            "a page holds at most the limit"
        );
        items.extend(page.items);
        if let Some(next) = &page.next {
            assert!(url_safe(&next.0), "{next}");
        }
        match page.next {
            None => return Ok(items),
            next => cursor = next,
        }
    }
    anyhow::bail!("the query did not end")
}

/// Only URL-unreserved characters, so a cursor passes through a query string unescaped.
fn url_safe(cursor: &str) -> bool {
    !cursor.is_empty()
        && cursor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn sort_keys(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.key.sk.as_str()).collect()
}

pub async fn queries_return_a_partition_in_utf8_byte_order(ctx: StoreCtx) -> anyhow::Result<()> {
    // UTF-8 byte order: ASCII upper before lower, then 2-, 3- and 4-byte characters. UTF-16
    // order would put the emoji (a surrogate pair) before U+FF61.
    let expected = ["A", "B", "a", "aa", "b", "~", "é", "\u{FF61}", "😀"];
    for sk in expected.iter().rev() {
        ctx.store.put(ctx.item("P", sk, json!({})), None).await?;
    }
    ctx.store
        .put(ctx.item("OTHER", "a", json!({})), None)
        .await?;
    let pk = ctx.key("P", "").pk;
    assert_eq!(
        sort_keys(&all(&ctx, Query::partition(&pk)).await?),
        expected
    );
    let mut reversed = expected;
    reversed.reverse();
    assert_eq!(
        sort_keys(&all(&ctx, Query::partition(&pk).descending()).await?),
        reversed
    );
    Ok(())
}

pub async fn sort_key_conditions_select_their_range(ctx: StoreCtx) -> anyhow::Result<()> {
    let keys = ["a", "ab", "abc", "abd", "b", "ba", "c"];
    for sk in keys {
        ctx.store.put(ctx.item("P", sk, json!({})), None).await?;
    }
    let pk = ctx.key("P", "").pk;
    let cases: [(SortKey, &[&str]); 8] = [
        (SortKey::Any, &keys),
        (SortKey::Equals("ab".into()), &["ab"]),
        (SortKey::BeginsWith("ab".into()), &["ab", "abc", "abd"]),
        (SortKey::BeginsWith("z".into()), &[]),
        (
            SortKey::Between("abc".into(), "b".into()),
            &["abc", "abd", "b"],
        ),
        (SortKey::LessThan("ab".into()), &["a"]),
        (SortKey::GreaterThan("b".into()), &["ba", "c"]),
        (SortKey::Between("b".into(), "b".into()), &["b"]),
    ];
    for (sk, expected) in cases {
        let found = all(&ctx, Query::partition(&pk).sort_key(sk.clone())).await?;
        assert_eq!(sort_keys(&found), expected, "{sk:?}");
        let found = all(
            &ctx,
            Query::partition(&pk).sort_key(sk.clone()).descending(),
        )
        .await?;
        let mut reversed = expected.to_vec();
        reversed.reverse();
        assert_eq!(sort_keys(&found), reversed, "{sk:?} descending");
    }
    Ok(())
}

pub async fn index_queries_order_by_index_sort_key_then_primary_key(
    ctx: StoreCtx,
) -> anyhow::Result<()> {
    for index in [Index::Gsi1, Index::Gsi2] {
        let group = format!("G-{}", index.name());
        // (pk, sk, index sk): two items share index sort key "2".
        let rows = [
            ("U2", "p", "2"),
            ("U1", "q", "2"),
            ("U1", "p", "2"),
            ("U3", "p", "1"),
            ("U4", "p", "3"),
        ];
        for (pk, sk, isk) in rows {
            let item = ctx
                .item(pk, sk, json!({}))
                .with_index(index, ctx.index_key(&group, isk));
            ctx.store.put(item, None).await?;
        }
        ctx.store.put(ctx.item("U5", "p", json!({})), None).await?;
        let ipk = ctx.index_key(&group, "").pk;
        let order = |items: Vec<Item>| -> Vec<(String, String)> {
            items
                .into_iter()
                .map(|i| (i.key.pk.rsplit('#').next().unwrap().to_owned(), i.key.sk))
                .collect()
        };
        let expected: Vec<(String, String)> = [
            ("U3", "p"),
            ("U1", "p"),
            ("U1", "q"),
            ("U2", "p"),
            ("U4", "p"),
        ]
        .iter()
        .map(|(pk, sk)| ((*pk).to_owned(), (*sk).to_owned()))
        .collect();
        assert_eq!(
            order(all(&ctx, Query::index(index, &ipk).limit(2)).await?),
            expected,
            "{index:?}"
        );
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(
            order(all(&ctx, Query::index(index, &ipk).limit(2).descending()).await?),
            reversed
        );

        let only_two = Query::index(index, &ipk).sort_key(SortKey::Equals("2".into()));
        assert_eq!(
            order(all(&ctx, only_two).await?),
            expected[1..4],
            "{index:?}"
        );
        let up_to_two = Query::index(index, &ipk)
            .sort_key(SortKey::LessThan("3".into()))
            .limit(1);
        assert_eq!(all(&ctx, up_to_two).await?.len(), 4);
        let items = all(
            &ctx,
            Query::index(index, &ipk).sort_key(SortKey::GreaterThan("2".into())),
        )
        .await?;
        assert_eq!(order(items), expected[4..]);
        let items = all(
            &ctx,
            Query::index(index, &ipk).sort_key(SortKey::BeginsWith("1".into())),
        )
        .await?;
        assert_eq!(order(items), expected[..1]);
        let items = all(
            &ctx,
            Query::index(index, &ipk).sort_key(SortKey::Between("1".into(), "2".into())),
        )
        .await?;
        assert_eq!(order(items), expected[..4]);
    }
    Ok(())
}

pub async fn pages_follow_cursors_to_the_end(ctx: StoreCtx) -> anyhow::Result<()> {
    let expected: Vec<String> = (0..23).map(|i| format!("item#{i:03}")).collect();
    for sk in &expected {
        let item = ctx
            .item("P", sk, json!({}))
            .with_index(Index::Gsi1, ctx.index_key("G", sk));
        ctx.store.put(item, None).await?;
    }
    let pk = ctx.key("P", "").pk;
    let first = ctx.store.query(Query::partition(&pk).limit(7)).await?;
    assert_eq!(sort_keys(&first.items), expected[..7]);
    assert!(first.next.is_some());
    for query in [
        Query::partition(&pk),
        Query::index(Index::Gsi1, ctx.index_key("G", "").pk),
    ] {
        for limit in [1, 7, 23, 100] {
            let found = all(&ctx, query.clone().limit(limit)).await?;
            assert_eq!(sort_keys(&found), expected, "limit {limit}");
            let found = all(&ctx, query.clone().limit(limit).descending()).await?;
            let mut reversed = expected.clone();
            reversed.reverse();
            assert_eq!(sort_keys(&found), reversed, "limit {limit} descending");
        }
    }
    Ok(())
}

pub async fn queries_skip_expired_items(ctx: StoreCtx) -> anyhow::Result<()> {
    for (sk, expires_at) in [
        ("a", past()),
        ("b", future()),
        ("c", past()),
        ("d", past()),
        ("e", future()),
    ] {
        let item = ctx
            .item("P", sk, json!({}))
            .with_index(Index::Gsi2, ctx.index_key("G", sk));
        ctx.store.put(item.expiring_at(expires_at), None).await?;
    }
    let pk = ctx.key("P", "").pk;
    assert_eq!(
        sort_keys(&all(&ctx, Query::partition(&pk).limit(1)).await?),
        ["b", "e"]
    );
    let ipk = ctx.index_key("G", "").pk;
    assert_eq!(
        sort_keys(&all(&ctx, Query::index(Index::Gsi2, ipk).limit(2)).await?),
        ["b", "e"]
    );
    Ok(())
}

/// The cursor after the first item of a query that has more.
async fn first_cursor(ctx: &StoreCtx, query: Query) -> anyhow::Result<Cursor> {
    let page = ctx.store.query(query.limit(1)).await?;
    page.next
        .ok_or_else(|| anyhow::anyhow!("a first page of one item out of three has a cursor"))
}

pub async fn a_cursor_from_another_query_is_refused(ctx: StoreCtx) -> anyhow::Result<()> {
    for sk in ["a", "b", "c"] {
        let item = ctx
            .item("P", sk, json!({}))
            .with_index(Index::Gsi1, ctx.index_key("G", sk))
            .with_index(Index::Gsi2, ctx.index_key("G", sk));
        ctx.store.put(item, None).await?;
    }
    let pk = ctx.key("P", "").pk;
    let ipk = ctx.index_key("G", "").pk;
    let table = first_cursor(&ctx, Query::partition(&pk)).await?;
    let index = first_cursor(&ctx, Query::index(Index::Gsi1, &ipk)).await?;
    let misuses = [
        (table.clone(), Query::partition(ctx.key("Q", "").pk)),
        (table.clone(), Query::index(Index::Gsi1, &ipk)),
        (index.clone(), Query::partition(&pk)),
        (
            index.clone(),
            Query::index(Index::Gsi1, ctx.index_key("H", "").pk),
        ),
        (index, Query::index(Index::Gsi2, &ipk)),
        (Cursor("not-a-cursor".into()), Query::partition(&pk)),
    ];
    for (cursor, query) in misuses {
        let result = ctx.store.query(query.clone().after(Some(cursor))).await;
        assert!(
            matches!(result, Err(StoreError::InvalidCursor)),
            "{query:?}: {result:?}"
        );
    }
    let rest = ctx
        .store
        .query(Query::partition(&pk).after(Some(table)))
        .await?;
    assert_eq!(sort_keys(&rest.items), ["b", "c"]);
    Ok(())
}
