//! Conditions checked against the live state of an item, as DynamoDB would check them.

use serde_json::Value;
use shared::store::{Condition, Item};

use shared::store::wire;

/// Whether `condition` holds when the live item (`None`: missing or expired) is `current`.
pub(super) fn holds(condition: &Condition, current: Option<&Item>) -> bool {
    match condition {
        Condition::Absent => current.is_none(),
        Condition::Present => current.is_some(),
        Condition::Equals(name, value) => current.is_some_and(|item| {
            wire::to_wire(item)
                .get(name)
                .is_some_and(|found| same_value(found, value))
        }),
        Condition::Missing(name) => {
            current.is_some_and(|item| !wire::to_wire(item).contains_key(name))
        }
        Condition::All(conditions) => conditions.iter().all(|c| holds(c, current)),
    }
}

/// Equality as DynamoDB sees it: numbers compare by value (`1` equals `1.0`), everything else
/// structurally.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64().zip(y.as_f64()).is_some_and(|(x, y)| x == y),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::store::Key;

    fn item(attrs: Value) -> Item {
        let Value::Object(attrs) = attrs else {
            unreachable!("a literal object")
        };
        Item::new(Key::new("P", "S"), attrs)
    }

    #[test]
    fn numbers_compare_by_value_and_keys_are_attributes_too() {
        let item = item(json!({"n": 1, "list": [1.0, "a"]}));
        assert!(holds(
            &Condition::Equals("n".into(), json!(1.0)),
            Some(&item)
        ));
        assert!(holds(
            &Condition::Equals("list".into(), json!([1, "a"])),
            Some(&item)
        ));
        assert!(holds(
            &Condition::Equals("pk".into(), json!("P")),
            Some(&item)
        ));
        assert!(!holds(
            &Condition::Equals("n".into(), json!("1")),
            Some(&item)
        ));
    }

    #[test]
    fn every_condition_but_absent_needs_the_item() {
        for condition in [
            Condition::Present,
            Condition::Equals("n".into(), json!(1)),
            Condition::Missing("n".into()),
        ] {
            assert!(!holds(&condition, None), "{condition:?}");
        }
        assert!(holds(&Condition::Absent, None));
    }
}
