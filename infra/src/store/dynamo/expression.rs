//! Condition and key expressions, with every name and value behind a placeholder.

use std::collections::HashMap;

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use shared::store::{Condition, StoreError};

/// The placeholders of one request's expressions.
///
/// Every attribute name goes through a `#n` placeholder (item attributes may collide with
/// DynamoDB's reserved words, and `ttl` is one), every value through a `:v` placeholder.
#[derive(Debug, Default)]
pub(super) struct Expression {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expression {
    /// The placeholder of an attribute name.
    pub(super) fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, name)| *name == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    /// The placeholder of a value.
    pub(super) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub(super) fn string(&mut self, value: impl Into<String>) -> String {
        self.value(AttributeValue::S(value.into()))
    }

    pub(super) fn number(&mut self, value: i64) -> String {
        self.value(AttributeValue::N(value.to_string()))
    }

    /// A JSON value as an attribute value.
    pub(super) fn json(&mut self, value: &Value) -> Result<String, StoreError> {
        let value = serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(value)
            .context("encoding a condition value as a DynamoDB attribute")?;
        Ok(self.value(value))
    }

    /// The item exists and has not expired at `now` (epoch seconds).
    pub(super) fn live(&mut self, now: i64) -> String {
        let pk = self.name("pk");
        let ttl = self.name("ttl");
        let now = self.number(now);
        format!("(attribute_exists({pk}) AND (attribute_not_exists({ttl}) OR {ttl} > {now}))")
    }

    /// The item is missing or has expired at `now`.
    pub(super) fn absent(&mut self, now: i64) -> String {
        let pk = self.name("pk");
        let ttl = self.name("ttl");
        let now = self.number(now);
        format!("(attribute_not_exists({pk}) OR {ttl} <= {now})")
    }

    /// The item exists and has expired at `now`.
    pub(super) fn expired(&mut self, now: i64) -> String {
        let pk = self.name("pk");
        let ttl = self.name("ttl");
        let now = self.number(now);
        format!("(attribute_exists({pk}) AND {ttl} <= {now})")
    }

    /// What a single write requires, if anything.
    pub(super) fn guard(
        &mut self,
        guard: Guard<'_>,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        match guard {
            Guard::None => Ok(None),
            Guard::Condition(condition) => self.condition(condition, now).map(Some),
            Guard::Expired => Ok(Some(self.expired(now))),
        }
    }

    /// A port condition, evaluated against the store's clock reading `now`.
    pub(super) fn condition(
        &mut self,
        condition: &Condition,
        now: i64,
    ) -> Result<String, StoreError> {
        Ok(match condition {
            Condition::Absent => self.absent(now),
            Condition::Present => self.live(now),
            Condition::Equals(attribute, value) => {
                let live = self.live(now);
                let name = self.name(attribute);
                let value = self.json(value)?;
                format!("({live} AND {name} = {value})")
            }
            Condition::Missing(attribute) => {
                let live = self.live(now);
                let name = self.name(attribute);
                format!("({live} AND attribute_not_exists({name}))")
            }
            Condition::All(conditions) if conditions.is_empty() => {
                // Vacuously true; DynamoDB has no literal `true`.
                let pk = self.name("pk");
                format!("(attribute_exists({pk}) OR attribute_not_exists({pk}))")
            }
            Condition::All(conditions) => {
                let parts = conditions
                    .iter()
                    .map(|c| self.condition(c, now))
                    .collect::<Result<Vec<_>, _>>()?;
                format!("({})", parts.join(" AND "))
            }
        })
    }

    /// The names, or `None` when there are none (DynamoDB rejects an empty map).
    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// The values, or `None` when there are none (DynamoDB rejects an empty map).
    pub(super) fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_name_and_value_is_a_placeholder() {
        let mut e = Expression::default();
        let condition = Condition::All(vec![
            Condition::Equals("status".into(), json!("active")),
            Condition::Missing("deleted_at".into()),
        ]);
        let text = e.condition(&condition, 100).unwrap();
        assert!(!text.contains("status") && !text.contains("ttl") && !text.contains("100"));
        let names = e.names().unwrap();
        assert_eq!(names.len(), 4, "pk, ttl, status, deleted_at: {names:?}");
        let values = e.values().unwrap();
        assert!(
            values
                .values()
                .any(|v| v == &AttributeValue::S("active".into()))
        );
    }

    #[test]
    fn an_expression_without_placeholders_sends_no_maps() {
        let e = Expression::default();
        assert!(e.names().is_none() && e.values().is_none());
    }
}

/// What a single put or delete requires of the item it replaces or removes: a condition of the
/// port, or (for the store's own housekeeping) that the item has expired.
#[derive(Debug, Clone, Copy)]
pub(super) enum Guard<'a> {
    None,
    Condition(&'a Condition),
    Expired,
}

impl<'a> From<Option<&'a Condition>> for Guard<'a> {
    fn from(condition: Option<&'a Condition>) -> Self {
        condition.map_or(Guard::None, Guard::Condition)
    }
}
