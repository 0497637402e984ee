//! Queries over the table or an index, in UTF-8 byte order, with opaque cursors.
//!
//! SQLite's default BINARY collation compares UTF-8 text byte by byte, which is DynamoDB's order
//! for string keys. Index queries order by (index sort key, pk, sk) so a page boundary between
//! items sharing an index sort key is still exact.

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use serde::{Deserialize, Serialize};
use shared::store::{Cursor, Item, Page, Query, SortKey, StoreError};

use super::feed::parse_image;

/// The most items one page may hold.
const MAX_LIMIT: usize = 1000;

/// Where a page ended, tied to the query (index and partition) that produced it.
#[derive(Serialize, Deserialize)]
struct Position {
    index: String,
    pk: String,
    /// The sort key, or for an index (index sort key, pk, sk).
    after: Vec<String>,
}

fn index_name(query: &Query) -> &'static str {
    query.index.map_or("table", |index| index.name())
}

fn encode(query: &Query, last: &Item) -> anyhow::Result<Cursor> {
    let after = match query.index {
        None => vec![last.key.sk.clone()],
        Some(index) => {
            let key = last
                .index_key(index)
                .context("an index query returned an item without index keys")?;
            vec![key.sk.clone(), last.key.pk.clone(), last.key.sk.clone()]
        }
    };
    let position = Position {
        index: index_name(query).to_owned(),
        pk: query.pk.clone(),
        after,
    };
    Ok(Cursor(
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&position)?),
    ))
}

fn decode(query: &Query, cursor: &Cursor) -> Result<Vec<String>, StoreError> {
    let position: Position = URL_SAFE_NO_PAD
        .decode(&cursor.0)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(StoreError::InvalidCursor)?;
    let width = if query.index.is_some() { 3 } else { 1 };
    if position.index != index_name(query)
        || position.pk != query.pk
        || position.after.len() != width
    {
        return Err(StoreError::InvalidCursor);
    }
    Ok(position.after)
}

/// Runs one page of `query` over items live at `now` (epoch seconds).
pub(super) fn page(conn: &Connection, query: &Query, now: i64) -> Result<Page, StoreError> {
    if query.limit == 0 || query.limit > MAX_LIMIT {
        return Err(anyhow!(
            "a query limit must be within 1..={MAX_LIMIT}, not {}",
            query.limit
        )
        .into());
    }
    let after = query
        .cursor
        .as_ref()
        .map(|c| decode(query, c))
        .transpose()?;
    let (pk_col, sk_col) = query
        .index
        .map_or(("pk", "sk"), |index| index.key_attributes());

    let mut sql = format!(
        "SELECT body FROM items WHERE {pk_col} = ? AND (expires_at IS NULL OR expires_at > ?)"
    );
    let mut args = vec![Sql::Text(query.pk.clone()), Sql::Integer(now)];
    let mut arg = |sql: &mut String, clause: String, value: &str| {
        sql.push_str(&clause);
        args.push(Sql::Text(value.to_owned()));
    };
    match &query.sk {
        SortKey::Any => {}
        SortKey::Equals(v) => arg(&mut sql, format!(" AND {sk_col} = ?"), v),
        SortKey::BeginsWith(prefix) => {
            arg(&mut sql, format!(" AND {sk_col} >= ?"), prefix);
            // substr and length both count characters of the same UTF-8 text: a prefix test.
            arg(
                &mut sql,
                format!(" AND substr({sk_col}, 1, length(?))"),
                prefix,
            );
            arg(&mut sql, " = ?".to_owned(), prefix);
        }
        SortKey::Between(low, high) => {
            arg(&mut sql, format!(" AND {sk_col} >= ?"), low);
            arg(&mut sql, format!(" AND {sk_col} <= ?"), high);
        }
        SortKey::LessThan(v) => arg(&mut sql, format!(" AND {sk_col} < ?"), v),
        SortKey::GreaterThan(v) => arg(&mut sql, format!(" AND {sk_col} > ?"), v),
    }
    let (beyond, direction) = if query.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(after) = &after {
        if query.index.is_some() {
            sql.push_str(&format!(" AND ({sk_col}, pk, sk) {beyond} (?, ?, ?)"));
        } else {
            sql.push_str(&format!(" AND sk {beyond} ?"));
        }
        args.extend(after.iter().cloned().map(Sql::Text));
    }
    if query.index.is_some() {
        sql.push_str(&format!(
            " ORDER BY {sk_col} {direction}, pk {direction}, sk {direction}"
        ));
    } else {
        sql.push_str(&format!(" ORDER BY sk {direction}"));
    }
    // One row more than the page tells whether another page follows.
    sql.push_str(" LIMIT ?");
    args.push(Sql::Integer(
        i64::try_from(query.limit + 1).unwrap_or(i64::MAX),
    ));

    let mut statement = conn.prepare_cached(&sql).context("preparing a query")?;
    let mut rows = statement
        .query(rusqlite::params_from_iter(args))
        .context("running a query")?;
    let mut items = Vec::new();
    // Each body is parsed where SQLite holds it, not copied out first.
    while let Some(row) = rows.next().context("reading query results")? {
        let body = row
            .get_ref(0)
            .and_then(|value| value.as_str().map_err(Into::into))
            .context("reading an item's body")?;
        items.push(parse_image(body)?);
    }
    let next = if items.len() > query.limit {
        items.truncate(query.limit);
        items.last().map(|last| encode(query, last)).transpose()?
    } else {
        None
    };
    Ok(Page { items, next })
}
