//! EventBridge schedule expressions, `rate(...)` and `cron(...)`, and when they fire next.
//!
//! The grammar is EventBridge's, so an expression that works here works in template.yaml:
//!
//! - `rate(N unit)`: N a positive integer; the unit singular for 1 (`minute`, `hour`, `day`) and
//!   plural otherwise.
//! - `cron(minutes hours day-of-month month day-of-week year)`, in UTC: Quartz-like, with
//!   day-of-week 1-7 = SUN-SAT, `L`, `W`, `#`, and `?` required in exactly one of the two day
//!   fields.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every so often, counted from when the schedule started.
    Rate(Duration),
    /// At the times a cron expression matches.
    Cron(Box<Cron>),
}

#[derive(Debug, thiserror::Error)]
#[error("invalid schedule expression {expression:?}: {reason}")]
pub struct ScheduleError {
    pub expression: String,
    pub reason: String,
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Self, ScheduleError> {
        let fail = |reason: &str| ScheduleError {
            expression: expression.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = expression.trim();
        if let Some(body) = trimmed
            .strip_prefix("rate(")
            .and_then(|s| s.strip_suffix(')'))
        {
            parse_rate(body).map(Schedule::Rate).map_err(|r| fail(&r))
        } else if let Some(body) = trimmed
            .strip_prefix("cron(")
            .and_then(|s| s.strip_suffix(')'))
        {
            parse_cron(body)
                .map(|c| Schedule::Cron(Box::new(c)))
                .map_err(|r| fail(&r))
        } else {
            Err(fail("expected rate(...) or cron(...)"))
        }
    }

    /// The first time strictly after `after` at which the schedule fires. A rate fires one period
    /// after `after`; `None` when a cron expression never matches again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Rate(period) => TimeDelta::from_std(*period)
                .ok()
                .and_then(|p| after.checked_add_signed(p)),
            Schedule::Cron(cron) => cron.find_next_occurrence(&after, false).ok(),
        }
    }
}

fn parse_rate(body: &str) -> Result<Duration, String> {
    let mut parts = body.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("a rate is `N unit`".into());
    };
    let value: u64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a positive integer"))?;
    if value == 0 {
        return Err("the value must be positive".into());
    }
    let (singular, seconds) = match unit {
        "minute" | "minutes" => ("minute", 60),
        "hour" | "hours" => ("hour", 60 * 60),
        "day" | "days" => ("day", 24 * 60 * 60),
        other => return Err(format!("unknown unit {other:?}")),
    };
    // EventBridge rejects `1 minutes` and `5 minute`.
    if (value == 1) != (unit == singular) {
        return Err(format!("use `{singular}` for 1 and `{singular}s` for more"));
    }
    value
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| "the period is too long".into())
}

fn parse_cron(body: &str) -> Result<Cron, String> {
    let fields: Vec<&str> = body.split_whitespace().collect();
    let [minutes, hours, day_of_month, month, day_of_week, year] = fields[..] else {
        return Err(format!(
            "a cron expression has 6 fields, not {}",
            fields.len()
        ));
    };
    if (day_of_month == "?") == (day_of_week == "?") {
        return Err("exactly one of day-of-month and day-of-week must be `?`".into());
    }
    // croner reads `?` as `*`; with the other day field restricted that is EventBridge's meaning.
    let pattern = format!("0 {minutes} {hours} {day_of_month} {month} {day_of_week} {year}");
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Required)
        .alternative_weekdays(true)
        .sloppy_ranges(true)
        .build()
        .parse(&pattern)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap()
    }

    fn next(expression: &str, after: &str) -> Option<DateTime<Utc>> {
        let schedule = Schedule::parse(expression);
        assert!(schedule.is_ok(), "{schedule:?}");
        schedule.ok()?.next_after(at(after))
    }

    #[test]
    fn rates_fire_one_period_later() {
        assert_eq!(
            next("rate(1 minute)", "2026-01-01T00:00:00Z"),
            Some(at("2026-01-01T00:01:00Z"))
        );
        assert_eq!(
            next("rate(5 minutes)", "2026-01-01T00:00:30Z"),
            Some(at("2026-01-01T00:05:30Z"))
        );
        assert_eq!(
            next("rate(1 hour)", "2026-01-01T10:00:00Z"),
            Some(at("2026-01-01T11:00:00Z"))
        );
        assert_eq!(
            next("rate(2 days)", "2026-01-01T10:00:00Z"),
            Some(at("2026-01-03T10:00:00Z"))
        );
    }

    #[test]
    fn malformed_rates_are_refused() {
        for expression in [
            "rate(1 minutes)",
            "rate(2 minute)",
            "rate(0 minutes)",
            "rate(x hours)",
            "rate(1 week)",
            "rate(1)",
            "rate 1 hour",
        ] {
            assert!(Schedule::parse(expression).is_err(), "{expression}");
        }
    }

    #[test]
    fn a_daily_cron_fires_at_its_hour_in_utc() {
        assert_eq!(
            next("cron(0 12 * * ? *)", "2026-01-01T13:00:00Z"),
            Some(at("2026-01-02T12:00:00Z"))
        );
        assert_eq!(
            next("cron(0 12 * * ? *)", "2026-01-01T11:59:00Z"),
            Some(at("2026-01-01T12:00:00Z"))
        );
    }

    #[test]
    fn a_cron_fires_strictly_after_the_given_time() {
        assert_eq!(
            next("cron(0 12 * * ? *)", "2026-01-01T12:00:00Z"),
            Some(at("2026-01-02T12:00:00Z"))
        );
    }

    #[test]
    fn day_of_week_numbers_count_from_sunday_as_one() {
        // 2026-01-01 is a Thursday; 2 is Monday.
        assert_eq!(
            next("cron(0 8 ? * 2 *)", "2026-01-01T00:00:00Z"),
            Some(at("2026-01-05T08:00:00Z"))
        );
        assert_eq!(
            next("cron(0 8 ? * 1 *)", "2026-01-01T00:00:00Z"),
            Some(at("2026-01-04T08:00:00Z"))
        );
        assert_eq!(
            next("cron(0 8 ? * 7 *)", "2026-01-01T00:00:00Z"),
            Some(at("2026-01-03T08:00:00Z"))
        );
    }

    #[test]
    fn day_names_and_ranges_work() {
        assert_eq!(
            next("cron(0 18 ? * MON-FRI *)", "2026-01-02T19:00:00Z"),
            Some(at("2026-01-05T18:00:00Z"))
        );
    }

    #[test]
    fn steps_may_start_from_a_value() {
        assert_eq!(
            next("cron(0/15 * * * ? *)", "2026-01-01T10:07:00Z"),
            Some(at("2026-01-01T10:15:00Z"))
        );
    }

    #[test]
    fn the_last_day_of_the_month_is_l() {
        assert_eq!(
            next("cron(0 0 L * ? *)", "2026-02-10T00:00:00Z"),
            Some(at("2026-02-28T00:00:00Z"))
        );
    }

    #[test]
    fn the_year_field_restricts() {
        assert_eq!(
            next("cron(0 0 1 1 ? 2027)", "2026-06-01T00:00:00Z"),
            Some(at("2027-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn malformed_crons_are_refused() {
        for expression in [
            "cron(0 12 * * ?)",
            "cron(0 12 1 * MON *)",
            "cron(0 12 ? * ? *)",
            "cron(0 25 * * ? *)",
            "cron(0 12 * * ? * *)",
            "cron(nonsense)",
        ] {
            assert!(Schedule::parse(expression).is_err(), "{expression}");
        }
    }

    #[test]
    fn every_schedule_in_the_catalog_parses() {
        for function in functions::wiring::FUNCTIONS {
            if let functions::wiring::Trigger::Schedule { expression } = function.trigger() {
                assert!(
                    Schedule::parse(expression).is_ok(),
                    "{}: {expression}",
                    function.name
                );
            }
        }
    }
}
