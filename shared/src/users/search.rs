//! Finding users by the start of their address or of a word of their name.
//!
//! DynamoDB has no full-text search, so the table holds its own small index: for every user, one
//! item per *token* — the whole address, and each word of the name of two characters or more,
//! lowercased — under `SEARCH#<first two characters>` / `<token>#<user id>`.
//!
//! A search for `q` reads one partition with `begins_with(q's longest word)`: one query of at
//! most a page of entries, then the users they name, whatever the size of the table. What
//! matches: users whose address starts with `q`, or whose name holds `q` from the start of one
//! of its words, case-insensitively (`ada`, `ada@ex`, `love`, `ada love` all find
//! "Ada Lovelace <ada@example.com>"; `example.com` and `velace` do not: addresses and words
//! match from their start). Only the first words of a long name are indexed
//! ([`MAX_TOKENS`]).
//!
//! The tokens are written with the user (registration, creation), moved when the name changes
//! and removed with the user, each in the same transaction. Spread over first-two-character
//! partitions, they put no one key under every registration.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::{Item, Key, Write};
use crate::users::User;

pub const SEARCH_PREFIX: &str = "SEARCH#";

/// The most tokens one user has (the address and the first words of the name).
pub const MAX_TOKENS: usize = 8;

/// The shortest search text, and its longest word: a partition is named by two characters.
pub const MIN_QUERY: usize = 2;
pub const MAX_QUERY: usize = 64;

/// A search text, trimmed and lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be {MIN_QUERY} to {MAX_QUERY} characters, with a word of {MIN_QUERY} or more")]
pub struct SearchTextError;

impl SearchText {
    pub fn parse(raw: &str) -> Result<Self, SearchTextError> {
        let text = collapse(&raw.to_lowercase());
        let length = text.chars().count();
        let valid = (MIN_QUERY..=MAX_QUERY).contains(&length)
            && !text.chars().any(char::is_control)
            && text.split(' ').any(|w| w.chars().count() >= MIN_QUERY);
        if valid {
            Ok(Self(text))
        } else {
            Err(SearchTextError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the index is read by: the longest word, the most selective guess. In a matching
    /// name every word of `q` starts a word, and each word's start is some token's start.
    pub fn index_word(&self) -> &str {
        self.0.split(' ').fold("", |longest, word| {
            if word.chars().count() > longest.chars().count() {
                word
            } else {
                longest
            }
        })
    }

    /// Whether `user` matches (see the module documentation).
    pub fn matches(&self, user: &User) -> bool {
        if user.email.as_str().starts_with(&self.0) {
            return true;
        }
        let name = collapse(&user.name.as_str().to_lowercase());
        name.starts_with(&self.0) || name.contains(&format!(" {}", self.0))
    }
}

/// Words separated by single spaces.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The partition a token (or a search's first word) lives in.
pub fn search_partition(token: &str) -> String {
    let head: String = token.chars().take(MIN_QUERY).collect();
    format!("{SEARCH_PREFIX}{head}")
}

/// A user's tokens: the address and the name's words of two characters or more, lowercased
/// (but for words the address starts with).
pub fn tokens(user: &User) -> BTreeSet<String> {
    let mut tokens = BTreeSet::from([user.email.as_str().to_owned()]);
    let name = user.name.as_str().to_lowercase();
    for word in name.split_whitespace() {
        if tokens.len() >= MAX_TOKENS {
            break;
        }
        // A word the address starts with is found through the address already.
        if word.chars().count() >= MIN_QUERY && !user.email.as_str().starts_with(word) {
            tokens.insert(word.to_owned());
        }
    }
    tokens
}

pub fn entry_key(token: &str, user_id: Uuid) -> Key {
    Key::new(search_partition(token), format!("{token}#{user_id}"))
}

/// The user an entry names.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Entry {
    pub user_id: Uuid,
}

/// The writes that move a user's entries from what `before` needs to what `after` needs
/// (`None`: no user), touching only the entries that change.
pub fn entry_writes(before: Option<&User>, after: Option<&User>) -> Vec<Write> {
    let old = before.map(tokens).unwrap_or_default();
    let new = after.map(tokens).unwrap_or_default();
    let mut writes: Vec<Write> = Vec::new();
    if let Some(user) = before {
        writes.extend(
            old.difference(&new)
                .map(|t| Write::delete(entry_key(t, user.id))),
        );
    }
    if let Some(user) = after {
        for token in new.difference(&old) {
            let mut attrs = serde_json::Map::new();
            attrs.insert("user_id".into(), serde_json::json!(user.id));
            writes.push(Write::put(Item::new(entry_key(token, user.id), attrs)));
        }
    }
    writes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::{Email, Name, PasswordHash, UserStatus};

    fn user(email: &str, name: &str) -> User {
        let now = chrono::Utc::now();
        User {
            id: Uuid::now_v7(),
            email: Email::parse(email).unwrap(),
            name: Name::parse(name).unwrap(),
            phone: None,
            status: UserStatus::Active,
            email_verified: true,
            password_hash: PasswordHash("x".into()),
            token_version: 0,
            avatar_url: None,
            avatar_key: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    #[test]
    fn what_a_search_matches() {
        let ada = user("ada@example.com", "Ada Lovelace");
        for q in ["ada", "ADA@Ex", "love", "ada love", " Lovelace "] {
            assert!(SearchText::parse(q).unwrap().matches(&ada), "{q}");
        }
        for q in [
            "example.com",
            "grace",
            "ada hopper",
            "velace",
            "da lovelace",
        ] {
            assert!(!SearchText::parse(q).unwrap().matches(&ada), "{q}");
        }
        for bad in ["a", " a ", "", "a b c", &"x".repeat(65)] {
            assert!(SearchText::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_search_reads_the_partition_of_its_longest_word() {
        let q = SearchText::parse("  Ada   LOVELACE ").unwrap();
        assert_eq!((q.as_str(), q.index_word()), ("ada lovelace", "lovelace"));
    }

    #[test]
    fn every_token_sits_where_a_search_for_its_start_reads() {
        let ada = user("ada@example.com", "Ada K Lovelace");
        let tokens = tokens(&ada);
        assert_eq!(
            tokens.iter().map(String::as_str).collect::<Vec<_>>(),
            ["ada@example.com", "lovelace"]
        );
        for token in &tokens {
            let q = SearchText::parse(&token[..3]).unwrap();
            assert_eq!(
                entry_key(token, ada.id).pk,
                search_partition(q.index_word())
            );
        }
    }

    #[test]
    fn a_rename_moves_only_the_entries_that_change() {
        let before = user("ada@example.com", "Ada Lovelace");
        let after = User {
            name: Name::parse("Ada King").unwrap(),
            ..before.clone()
        };
        let writes = entry_writes(Some(&before), Some(&after));
        let keys: Vec<(bool, &str)> = writes
            .iter()
            .map(|w| (matches!(w, Write::Put { .. }), w.key().sk.as_str()))
            .collect();
        assert_eq!(keys.len(), 2);
        assert!(keys[0].1.starts_with("lovelace#") && !keys[0].0);
        assert!(keys[1].1.starts_with("king#") && keys[1].0);
        assert_eq!(entry_writes(Some(&before), None).len(), 2);
    }
}
