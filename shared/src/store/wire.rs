//! The wire form of an item: one flat attribute map, shared by both stores and the change feed.
//!
//! It is part of the port's contract because the change feed hands it to stream consumers:
//! DynamoDB Streams and the local change feed carry the same images, in this form.
//!
//! `pk`, `sk`, the index keys, `ttl` (epoch seconds, as DynamoDB's TTL wants) and `exp_shard`
//! (the partition key of the expiry index, set on every item with a `ttl`) sit beside the
//! item's own attributes. The same map is what DynamoDB stores, what the local store keeps as
//! JSON, and what stream records carry as images.

use crate::store::{Index, IndexKey, Item, Key};
use anyhow::{Context, anyhow};
use chrono::DateTime;
use serde_json::{Map, Value};

/// How many partitions the expiry index spreads expiring items over, so no single partition
/// key takes every write of a busy table.
pub const EXPIRY_SHARDS: u32 = 16;

/// The expiry index: partition key `exp_shard`, sort key `ttl`.
pub const EXPIRY_INDEX: &str = "expiry";

/// The expiry shard of a key: stable, spread by a hash of the partition key.
pub fn expiry_shard(key: &Key) -> String {
    // FNV-1a: stable across processes and versions, unlike std's hasher.
    let hash = key.pk.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("exp#{}", hash % EXPIRY_SHARDS)
}

/// The item as one flat JSON object.
pub fn to_wire(item: &Item) -> Map<String, Value> {
    let mut wire = item.attrs.clone();
    wire.insert("pk".into(), Value::String(item.key.pk.clone()));
    wire.insert("sk".into(), Value::String(item.key.sk.clone()));
    for index in [Index::Gsi1, Index::Gsi2] {
        if let Some(key) = item.index_key(index) {
            let (pk, sk) = index.key_attributes();
            wire.insert(pk.into(), Value::String(key.pk.clone()));
            wire.insert(sk.into(), Value::String(key.sk.clone()));
        }
    }
    if let Some(at) = item.expires_at {
        wire.insert("ttl".into(), Value::from(at.timestamp()));
        wire.insert("exp_shard".into(), Value::String(expiry_shard(&item.key)));
    }
    wire
}

/// The item held by a flat JSON object.
pub fn from_wire(mut wire: Map<String, Value>) -> anyhow::Result<Item> {
    let mut take_string = |name: &str| -> anyhow::Result<Option<String>> {
        match wire.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(anyhow!("attribute {name} should be a string, not {other}")),
        }
    };
    let pk = take_string("pk")?.context("item without pk")?;
    let sk = take_string("sk")?.context("item without sk")?;
    let mut index_key = |index: Index| -> anyhow::Result<Option<IndexKey>> {
        let (pk_name, sk_name) = index.key_attributes();
        Ok(match (take_string(pk_name)?, take_string(sk_name)?) {
            (Some(pk), Some(sk)) => Some(IndexKey { pk, sk }),
            _ => None,
        })
    };
    let gsi1 = index_key(Index::Gsi1)?;
    let gsi2 = index_key(Index::Gsi2)?;
    wire.remove("exp_shard");
    let expires_at = match wire.remove("ttl") {
        None | Some(Value::Null) => None,
        Some(ttl) => {
            let secs = ttl
                .as_i64()
                .with_context(|| format!("ttl should be epoch seconds, not {ttl}"))?;
            Some(
                DateTime::from_timestamp(secs, 0)
                    .with_context(|| format!("ttl {secs} is out of range"))?,
            )
        }
    };
    Ok(Item {
        key: Key { pk, sk },
        gsi1,
        gsi2,
        expires_at,
        attrs: wire,
    })
}

/// The item as a DynamoDB attribute map, as stream records carry it.
pub fn to_image(item: &Item) -> anyhow::Result<serde_dynamo::Item> {
    serde_dynamo::to_item(Value::Object(to_wire(item)))
        .context("encoding an item as DynamoDB attributes")
}

/// The item held by a DynamoDB attribute map (a stream record image).
pub fn from_image(image: serde_dynamo::Item) -> anyhow::Result<Item> {
    let wire: Map<String, Value> =
        serde_dynamo::from_item(image).context("decoding DynamoDB attributes")?;
    from_wire(wire)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Item {
        let attrs =
            json!({"email": "a@example.com", "n": 3, "tags": ["x"], "nested": {"ok": true}});
        let Value::Object(attrs) = attrs else {
            unreachable!()
        };
        Item::new(Key::new("USER#1", "PROFILE"), attrs)
            .with_index(Index::Gsi1, IndexKey::new("EMAIL#a@example.com", "USER#1"))
            .expiring_at(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
    }

    #[test]
    fn an_item_survives_the_wire_form() {
        let item = sample();
        let wire = to_wire(&item);
        assert_eq!(wire["ttl"], json!(1_800_000_000));
        assert_eq!(wire["gsi1pk"], json!("EMAIL#a@example.com"));
        assert!(wire.contains_key("exp_shard"));
        assert_eq!(from_wire(wire).ok(), Some(item));
    }

    #[test]
    fn an_item_survives_the_dynamodb_image_form() {
        let item = sample();
        let image = to_image(&item).ok();
        assert_eq!(image.and_then(|i| from_image(i).ok()), Some(item));
    }

    #[test]
    fn expiry_shards_are_stable_and_bounded() {
        let key = Key::new("SESSION#abc", "S");
        assert_eq!(expiry_shard(&key), expiry_shard(&key));
        let shards: std::collections::HashSet<_> = (0..200)
            .map(|i| expiry_shard(&Key::new(format!("K#{i}"), "S")))
            .collect();
        assert!(shards.len() > 8 && shards.len() <= EXPIRY_SHARDS as usize);
    }
}
