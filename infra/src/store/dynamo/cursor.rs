//! Query cursors: DynamoDB's `LastEvaluatedKey`, as an opaque URL-safe string.

use std::collections::HashMap;

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use shared::store::{Cursor, Index, Query, StoreError};

type Key = HashMap<String, AttributeValue>;

/// The cursor of a `LastEvaluatedKey`: base64url of the key as JSON.
pub(super) fn encode(key: Key) -> Result<Cursor, StoreError> {
    let json: Map<String, Value> =
        serde_dynamo::aws_sdk_dynamodb_1::from_item(key).context("decoding a LastEvaluatedKey")?;
    let bytes = serde_json::to_vec(&json).context("encoding a cursor")?;
    Ok(Cursor(URL_SAFE_NO_PAD.encode(bytes)))
}

/// The `ExclusiveStartKey` a cursor stands for, checked against the query it continues: the
/// key must name exactly the table's and the queried index's key attributes, all strings, with
/// the query's partition.
pub(super) fn decode(cursor: &Cursor, query: &Query) -> Result<Key, StoreError> {
    let json = URL_SAFE_NO_PAD
        .decode(cursor.0.as_bytes())
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .ok_or(StoreError::InvalidCursor)?;

    let mut expected = vec!["pk", "sk"];
    let partition = match query.index {
        None => "pk",
        Some(index) => {
            let (pk, sk) = Index::key_attributes(index);
            expected.extend([pk, sk]);
            pk
        }
    };
    let shaped = json.len() == expected.len()
        && expected
            .iter()
            .all(|name| json.get(*name).is_some_and(Value::is_string))
        && json.get(partition).and_then(Value::as_str) == Some(query.pk.as_str());
    if !shaped {
        return Err(StoreError::InvalidCursor);
    }
    Ok(json
        .into_iter()
        .filter_map(|(name, value)| match value {
            Value::String(s) => Some((name, AttributeValue::S(s))),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pairs: &[(&str, &str)]) -> Key {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), AttributeValue::S((*v).to_owned())))
            .collect()
    }

    #[test]
    fn a_cursor_continues_the_query_it_came_from() {
        let last = key(&[("pk", "P"), ("sk", "S#1")]);
        let cursor = encode(last.clone()).ok();
        let cursor = cursor
            .as_ref()
            .map(|c| decode(c, &Query::partition("P")).ok());
        assert_eq!(cursor, Some(Some(last)));
    }

    #[test]
    fn a_cursor_of_another_query_is_invalid() {
        let cursor = encode(key(&[("pk", "P"), ("sk", "S#1")])).unwrap();
        assert!(matches!(
            decode(&cursor, &Query::partition("Q")),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            decode(&cursor, &Query::index(Index::Gsi1, "P")),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            decode(&Cursor("not a cursor!".into()), &Query::partition("P")),
            Err(StoreError::InvalidCursor)
        ));
    }

    #[test]
    fn an_index_cursor_carries_the_index_keys() {
        let last = key(&[
            ("pk", "U#1"),
            ("sk", "P"),
            ("gsi1pk", "E#a"),
            ("gsi1sk", "U#1"),
        ]);
        let cursor = encode(last.clone()).unwrap();
        assert!(
            cursor
                .0
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            decode(&cursor, &Query::index(Index::Gsi1, "E#a")).ok(),
            Some(last)
        );
    }
}
