//! Throttling: counters of attempts in fixed windows, kept in the item store with a TTL.
//!
//! A counter lives in the partition of what it counts (`EMAIL#<address>`, `IP#<address>`)
//! under `THROTTLE#<rule>#<window>`, so a read that needs the subject anyway (login reads the
//! email's partition) gets its counters in the same query.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::store::{Item, ItemStore, Key, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    /// Attempts allowed per window; the next one is refused.
    pub limit: i64,
    pub window: Duration,
}

const MINUTE: u64 = 60;

/// Failed logins of one account.
pub const LOGIN_FAILURES_PER_ACCOUNT: Rule = Rule {
    name: "login-account",
    limit: 10,
    window: Duration::from_secs(15 * MINUTE),
};
/// Login attempts from one client address.
pub const LOGINS_PER_IP: Rule = Rule {
    name: "login-ip",
    limit: 50,
    window: Duration::from_secs(15 * MINUTE),
};
pub const REGISTRATIONS_PER_IP: Rule = Rule {
    name: "register-ip",
    limit: 20,
    window: Duration::from_secs(60 * MINUTE),
};
pub const REGISTRATIONS_PER_EMAIL: Rule = Rule {
    name: "register-email",
    limit: 5,
    window: Duration::from_secs(60 * MINUTE),
};
/// Reset and resend-verification mails, per client address.
pub const MAILS_PER_IP: Rule = Rule {
    name: "mail-ip",
    limit: 20,
    window: Duration::from_secs(60 * MINUTE),
};
/// Reset and resend-verification mails, per address asked for.
pub const MAILS_PER_EMAIL: Rule = Rule {
    name: "mail-email",
    limit: 5,
    window: Duration::from_secs(60 * MINUTE),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Limited { retry_after: Duration },
}

impl Rule {
    fn window_secs(&self) -> i64 {
        i64::try_from(self.window.as_secs())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    fn window_start(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp().div_euclid(self.window_secs()) * self.window_secs()
    }

    fn window_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let end = self.window_start(now) + self.window_secs();
        Utc.timestamp_opt(end, 0).single().unwrap_or(now)
    }

    /// The sort key of the counter of the window `now` falls in.
    pub fn counter_sk(&self, now: DateTime<Utc>) -> String {
        format!("THROTTLE#{}#{}", self.name, self.window_start(now))
    }

    pub fn counter_key(&self, partition: &str, now: DateTime<Utc>) -> Key {
        Key::new(partition, self.counter_sk(now))
    }

    /// What a count of attempts in the current window means.
    pub fn decide(&self, count: i64, now: DateTime<Utc>) -> Decision {
        if count <= self.limit {
            return Decision::Allowed;
        }
        let left = (self.window_end(now) - now).num_seconds().max(1);
        Decision::Limited {
            retry_after: Duration::from_secs(left.unsigned_abs()),
        }
    }
}

/// The counter value held by an item read from the subject's partition.
pub fn count_in(item: &Item) -> i64 {
    item.attrs.get(COUNT).and_then(|v| v.as_i64()).unwrap_or(0)
}

const COUNT: &str = "count";

/// The partition of a client address's counters: an IPv4 address, or the /64 network of an
/// IPv6 one. One IPv6 host is usually given a whole /64 and picks any address in it, so keying
/// the full address would hand it 2^64 fresh budgets. An IPv4 address written as IPv6
/// (`::ffff:a.b.c.d`) counts as that IPv4 address; what does not parse is keyed as given.
pub fn ip_partition(ip: &str) -> String {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => format!("IP#{v4}"),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("IP#{v4}"),
            None => {
                let network = u128::from(v6) & !(u128::from(u64::MAX));
                format!("IP#{}/64", Ipv6Addr::from(network))
            }
        },
        Err(_) => format!("IP#{ip}"),
    }
}

/// Counts one attempt and decides on it.
pub async fn hit(
    store: &dyn ItemStore,
    rule: &Rule,
    partition: &str,
    now: DateTime<Utc>,
) -> Result<Decision, StoreError> {
    let count = store
        .add(
            &rule.counter_key(partition, now),
            COUNT,
            1,
            Some(rule.window_end(now)),
        )
        .await?;
    Ok(rule.decide(count, now))
}

/// What a password check decides before the hash: one attempt counted against the client
/// ([`LOGINS_PER_IP`]) and one against the account ([`LOGIN_FAILURES_PER_ACCOUNT`], in the
/// address's partition), both at once. Each is decided on the count its increment returns, so
/// parallel guesses each see their own place in line and no more than the limit reach the hash;
/// the caller clears the account's count once the password proved right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordAttempt {
    pub by_client: Decision,
    pub by_account: Decision,
}

/// Counts a password attempt from the client at `ip_partition` on the account whose address
/// partition is `email_partition`.
pub async fn password_attempt(
    store: &dyn ItemStore,
    ip_partition: &str,
    email_partition: &str,
    now: DateTime<Utc>,
) -> Result<PasswordAttempt, StoreError> {
    let (by_client, by_account) = tokio::join!(
        hit(store, &LOGINS_PER_IP, ip_partition, now),
        hit(store, &LOGIN_FAILURES_PER_ACCOUNT, email_partition, now),
    );
    Ok(PasswordAttempt {
        by_client: by_client?,
        by_account: by_account?,
    })
}

/// Counts one attempt against each rule in turn, stopping at the first that limits it. In
/// turn, not at once: with every counter hit together, of many concurrent attempts the few
/// under one limit could all be over another, and none would get through.
pub async fn hit_each(
    store: &dyn ItemStore,
    rules: &[(&Rule, &str)],
    now: DateTime<Utc>,
) -> Result<Decision, StoreError> {
    for (rule, partition) in rules {
        let decision = hit(store, rule, partition, now).await?;
        if let Decision::Limited { .. } = decision {
            return Ok(decision);
        }
    }
    Ok(Decision::Allowed)
}

/// The attempts counted in the current window, without counting one.
pub async fn count(
    store: &dyn ItemStore,
    rule: &Rule,
    partition: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    Ok(store
        .get(&rule.counter_key(partition, now))
        .await?
        .map_or(0, |item| count_in(&item)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attempt_over_the_limit_waits_for_the_window_to_end() {
        let rule = Rule {
            name: "t",
            limit: 3,
            window: Duration::from_secs(900),
        };
        let now = Utc.timestamp_opt(900 * 1000 + 100, 0).single().unwrap();
        assert_eq!(rule.decide(3, now), Decision::Allowed);
        assert_eq!(
            rule.decide(4, now),
            Decision::Limited {
                retry_after: Duration::from_secs(800)
            }
        );
        assert_eq!(rule.counter_sk(now), "THROTTLE#t#900000");
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_network_and_a_mapped_ipv4_as_ipv4() {
        let one = ip_partition("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
        assert_eq!(one, "IP#2001:db8:1:2::/64");
        assert_eq!(ip_partition("2001:db8:1:2::1"), one, "same /64");
        assert_ne!(ip_partition("2001:db8:1:3::1"), one, "another /64");
        assert_eq!(ip_partition("::ffff:192.0.2.7"), "IP#192.0.2.7");
        assert_eq!(ip_partition("192.0.2.7"), "IP#192.0.2.7");
        assert_ne!(ip_partition("192.0.2.8"), ip_partition("192.0.2.7"));
        assert_eq!(ip_partition("unknown"), "IP#unknown");
    }
}
