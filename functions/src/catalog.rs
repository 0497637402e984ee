//! Every function of the system and what triggers it.
//!
//! This list is the code's side of the contract with template.yaml: each entry is one Lambda
//! function (built from `src/bin/<name>.rs`) and one route or schedule of the local system. A
//! test compares it with the template, so neither side can gain or lose a function, a route
//! or a schedule alone.

/// One function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// The binary name (`src/bin/<name>.rs`) and the template's `BuildProperties.Binary`.
    pub name: &'static str,
    pub trigger: Trigger,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An HTTP API route. Paths use API Gateway's `{param}` syntax.
    Http {
        method: &'static str,
        path: &'static str,
    },
    /// An EventBridge schedule, in its `rate(...)` or `cron(...)` syntax.
    Schedule { expression: &'static str },
    /// The table's change stream (DynamoDB Streams; the local store's change feed).
    Stream,
    /// An SQS queue: `events` or `jobs` (the local queue names; `EventsQueue` and `JobsQueue`
    /// in the template).
    Queue { queue: &'static str },
}

pub const FUNCTIONS: &[Function] = &[
    Function {
        name: "health",
        trigger: Trigger::Http {
            method: "GET",
            path: "/health",
        },
    },
    Function {
        name: "jwks",
        trigger: Trigger::Http {
            method: "GET",
            path: "/.well-known/jwks.json",
        },
    },
    Function {
        name: "register",
        trigger: Trigger::Http {
            method: "POST",
            path: "/api/v1/auth/register",
        },
    },
    Function {
        name: "verify_email",
        trigger: Trigger::Http {
            method: "POST",
            path: "/api/v1/auth/verify-email",
        },
    },
    Function {
        name: "resend_verification",
        trigger: Trigger::Http {
            method: "POST",
            path: "/api/v1/auth/resend-verification",
        },
    },
    Function {
        name: "login",
        trigger: Trigger::Http {
            method: "POST",
            path: "/api/v1/auth/login",
        },
    },
    Function {
        name: "refresh",
        trigger: Trigger::Http {
            method: "POST",
            path: "/api/v1/auth/refresh",
        },
    },
    Function {
        name: "logout",
        trigger: Trigger::Http {
            method: "POST",
            path: "/api/v1/auth/logout",
        },
    },
    Function {
        name: "logout_all",
        trigger: Trigger::Http {
            method: "POST",
            path: "/api/v1/auth/logout-all",
        },
    },
    Function {
        name: "reset_password",
        trigger: Trigger::Http {
            method: "POST",
            path: "/api/v1/auth/reset-password",
        },
    },
    Function {
        name: "confirm_reset",
        trigger: Trigger::Http {
            method: "POST",
            path: "/api/v1/auth/confirm-reset",
        },
    },
    Function {
        name: "change_password",
        trigger: Trigger::Http {
            method: "PUT",
            path: "/api/v1/auth/change-password",
        },
    },
    Function {
        name: "profile",
        trigger: Trigger::Http {
            method: "GET",
            path: "/api/v1/auth/profile",
        },
    },
    Function {
        name: "permissions",
        trigger: Trigger::Http {
            method: "GET",
            path: "/api/v1/auth/permissions",
        },
    },
    Function {
        name: "sessions",
        trigger: Trigger::Http {
            method: "GET",
            path: "/api/v1/auth/sessions",
        },
    },
    Function {
        name: "delete_session",
        trigger: Trigger::Http {
            method: "DELETE",
            path: "/api/v1/auth/sessions/{id}",
        },
    },
    Function {
        name: "purge_expired",
        trigger: Trigger::Schedule {
            expression: "rate(1 hour)",
        },
    },
    Function {
        name: "relay",
        trigger: Trigger::Stream,
    },
    Function {
        name: "consumer",
        trigger: Trigger::Queue { queue: "events" },
    },
    Function {
        name: "reconcile_outbox",
        trigger: Trigger::Schedule {
            expression: "rate(5 minutes)",
        },
    },
    Function {
        name: "worker",
        trigger: Trigger::Queue { queue: "jobs" },
    },
    Function {
        name: "redrive_stuck_jobs",
        trigger: Trigger::Schedule {
            expression: "rate(5 minutes)",
        },
    },
    Function {
        name: "cleanup_unverified_users",
        trigger: Trigger::Schedule {
            expression: "rate(1 day)",
        },
    },
];
