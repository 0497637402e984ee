//! The one table of the system's functions, and how each handler is built from the ports.
//!
//! Every function is declared once below: its name, its trigger (a route with its policy, a
//! schedule, the stream or a queue) and how its handler is built from a [`Backend`]; then
//! placed in one of the [`packages`], whose binary runs it on Lambda ([`lambda`]). Everything
//! else reads [`FUNCTIONS`], the functions of every package: the local system serves every
//! route and feeds every event handler, and the template check compares it with template.yaml. This is the only module that sees the composition root; the
//! handlers take ports and use cases.

// The declaration macros first: the table below is written with them.
#[macro_use]
mod declare;
mod function;
pub mod lambda;
pub mod packages;

use axum::Router;
use infra::compose::{Backend, EVENTS_QUEUE, JOBS_QUEUE, UPLOADS_QUEUE};
use shared::auth::access_token::VerifiedTokens;
use shared::jobs::JobRepo;
use shared::paging::CachedCursorKey;
use shared::rbac::{CachedCatalog, RbacAdmin};
use shared::users::UserRepo;

pub use function::{Build, BuildGuarded, Built, Function, Trigger};

use crate::auth::guard::Policy::{Authenticated, Permission, PermissionOrSelf};
use crate::auth::guard::{Authenticator, Route};
use crate::auth::jwks::{self, PublicKeys};
use crate::auth::{
    change_password, confirm_reset, delete_session, login, logout, logout_all, permissions,
    profile, refresh, register, resend_verification, reset_password, sessions, verify_email,
};
use crate::jobs::erase_user::EraseUser;
use crate::jobs::export_users::ExportUsers;
use crate::jobs::process_avatar::ProcessAvatar;
use crate::jobs::registry::Registry;
use crate::jobs::send_email::SendEmail;
use crate::jobs::worker::Worker;
use crate::jobs::{cancel_job, create_job, get_job, list_jobs, retry_job};
use crate::maintenance::cleanup_unverified_users::CleanupUnverifiedUsers;
use crate::maintenance::purge_expired::PurgeExpired;
use crate::maintenance::reconcile_outbox::ReconcileOutbox;
use crate::maintenance::redrive_stuck_jobs::RedriveStuckJobs;
use crate::messaging::consumer::Consumer;
use crate::messaging::publisher::Publisher;
use crate::messaging::relay::Relay;
use crate::messaging::subscriptions::subscriptions;
use crate::openapi;
use crate::rbac::{
    Administration, create_permission, create_role, delete_permission, delete_role, get_permission,
    get_role, list_permissions, list_roles, set_role_permissions, update_permission, update_role,
};
use crate::system::health;
use crate::users::avatar_uploaded::AvatarUploaded;
use crate::users::{
    assign_role, create_user, delete_user, get_user, list_users, revoke_role, update_user,
    upload_avatar, user_roles,
};

pub const HEALTH: Function = Function::standalone("health", "GET", "/health", health::handler);

pub const OPENAPI: Function = Function::standalone(
    "openapi",
    "GET",
    "/openapi.json",
    openapi::docs::document_handler,
);

pub const DOCS: Function =
    Function::standalone("docs", "GET", "/docs", openapi::docs::page_handler);

pub const JWKS: Function = public!("jwks", "GET", "/.well-known/jwks.json", |b| {
    let secret = b.settings().public_keys_secret.clone();
    jwks::handler(PublicKeys::new(b.secrets()?, secret))
});

pub const REGISTER: Function = public!("register", "POST", "/api/v1/auth/register", |b| {
    register::handler(b.accounts()?)
})
.idempotent();

pub const VERIFY_EMAIL: Function =
    public!("verify_email", "POST", "/api/v1/auth/verify-email", |b| {
        verify_email::handler(b.accounts()?)
    })
    .idempotent();

pub const RESEND_VERIFICATION: Function = public!(
    "resend_verification",
    "POST",
    "/api/v1/auth/resend-verification",
    |b| resend_verification::handler(b.accounts()?)
)
.idempotent();

pub const LOGIN: Function = public!("login", "POST", "/api/v1/auth/login", |b| {
    login::handler(b.accounts()?, b.token_issuer()?)
});

pub const REFRESH: Function = public!("refresh", "POST", "/api/v1/auth/refresh", |b| {
    refresh::handler(b.accounts()?, b.token_issuer()?)
});

pub const LOGOUT: Function = protected!(
    "logout",
    "POST",
    "/api/v1/auth/logout",
    Authenticated,
    |b, _guard| logout::handler(b.accounts()?)
)
.idempotent();

pub const LOGOUT_ALL: Function = protected!(
    "logout_all",
    "POST",
    "/api/v1/auth/logout-all",
    Authenticated,
    |b, _guard| logout_all::handler(b.accounts()?)
)
.idempotent();

pub const RESET_PASSWORD: Function = public!(
    "reset_password",
    "POST",
    "/api/v1/auth/reset-password",
    |b| { reset_password::handler(b.accounts()?) }
)
.idempotent();

pub const CONFIRM_RESET: Function =
    public!("confirm_reset", "POST", "/api/v1/auth/confirm-reset", |b| {
        confirm_reset::handler(b.accounts()?)
    })
    .idempotent();

pub const CHANGE_PASSWORD: Function = protected!(
    "change_password",
    "PUT",
    "/api/v1/auth/change-password",
    Authenticated,
    |b, _guard| change_password::handler(b.accounts()?)
);

pub const PROFILE: Function = protected!(
    "profile",
    "GET",
    "/api/v1/auth/profile",
    Authenticated,
    |_b, _guard| profile::handler()
);

pub const PERMISSIONS: Function = protected!(
    "permissions",
    "GET",
    "/api/v1/auth/permissions",
    Authenticated,
    |_b, _guard| permissions::handler()
);

pub const SESSIONS: Function = protected!(
    "sessions",
    "GET",
    "/api/v1/auth/sessions",
    Authenticated,
    |_b, _guard| sessions::handler()
);

pub const DELETE_SESSION: Function = protected!(
    "delete_session",
    "DELETE",
    "/api/v1/auth/sessions/{id}",
    Authenticated,
    |b, _guard| delete_session::handler(b.accounts()?)
)
.idempotent();

pub const CREATE_USER: Function = protected!(
    "create_user",
    "POST",
    "/api/v1/users",
    Permission("users:create"),
    |b, _guard| create_user::handler(b.accounts()?)
)
.idempotent();

pub const LIST_USERS: Function = protected!(
    "list_users",
    "GET",
    "/api/v1/users",
    Permission("users:list"),
    |b, _guard| list_users::handler(UserRepo::new(b.store()?), cursor_key(b)?)
);

pub const GET_USER: Function = protected!(
    "get_user",
    "GET",
    "/api/v1/users/{id}",
    PermissionOrSelf("users:read"),
    |b, _guard| get_user::handler(UserRepo::new(b.store()?))
);

pub const UPDATE_USER: Function = protected!(
    "update_user",
    "PATCH",
    "/api/v1/users/{id}",
    PermissionOrSelf("users:update"),
    |b, _guard| update_user::handler(b.accounts()?)
)
.idempotent();

pub const DELETE_USER: Function = protected!(
    "delete_user",
    "DELETE",
    "/api/v1/users/{id}",
    Permission("users:delete"),
    |b, _guard| delete_user::handler(b.accounts()?)
)
.idempotent();

pub const UPLOAD_AVATAR: Function = protected!(
    "upload_avatar",
    "POST",
    "/api/v1/users/{id}/avatar",
    PermissionOrSelf("users:update"),
    |b, _guard| upload_avatar::handler(upload_avatar::Ports {
        users: UserRepo::new(b.store()?),
        forms: b.upload_forms()?,
        random: b.random(),
    })
);

pub const USER_ROLES: Function = protected!(
    "user_roles",
    "GET",
    "/api/v1/users/{id}/roles",
    PermissionOrSelf("users:read"),
    |b, _guard| user_roles::handler(UserRepo::new(b.store()?))
);

pub const ASSIGN_ROLE: Function = protected!(
    "assign_role",
    "POST",
    "/api/v1/users/{id}/roles",
    Permission("roles:assign"),
    |b, guard| assign_role::handler(administration(b, &guard)?)
)
.idempotent();

pub const REVOKE_ROLE: Function = protected!(
    "revoke_role",
    "DELETE",
    "/api/v1/users/{id}/roles/{role_id}",
    Permission("roles:assign"),
    |b, guard| revoke_role::handler(administration(b, &guard)?)
)
.idempotent();

pub const LIST_ROLES: Function = protected!(
    "list_roles",
    "GET",
    "/api/v1/roles",
    Permission("roles:list"),
    |b, guard| list_roles::handler(administration(b, &guard)?)
);

pub const CREATE_ROLE: Function = protected!(
    "create_role",
    "POST",
    "/api/v1/roles",
    Permission("roles:create"),
    |b, guard| create_role::handler(administration(b, &guard)?)
)
.idempotent();

pub const GET_ROLE: Function = protected!(
    "get_role",
    "GET",
    "/api/v1/roles/{id}",
    Permission("roles:read"),
    |b, guard| get_role::handler(administration(b, &guard)?)
);

pub const UPDATE_ROLE: Function = protected!(
    "update_role",
    "PATCH",
    "/api/v1/roles/{id}",
    Permission("roles:update"),
    |b, guard| update_role::handler(administration(b, &guard)?)
)
.idempotent();

pub const DELETE_ROLE: Function = protected!(
    "delete_role",
    "DELETE",
    "/api/v1/roles/{id}",
    Permission("roles:delete"),
    |b, guard| delete_role::handler(administration(b, &guard)?)
)
.idempotent();

pub const SET_ROLE_PERMISSIONS: Function = protected!(
    "set_role_permissions",
    "PUT",
    "/api/v1/roles/{id}/permissions",
    Permission("roles:update"),
    |b, guard| set_role_permissions::handler(administration(b, &guard)?)
);

pub const LIST_PERMISSIONS: Function = protected!(
    "list_permissions",
    "GET",
    "/api/v1/permissions",
    Permission("permissions:list"),
    |b, guard| list_permissions::handler(administration(b, &guard)?)
);

pub const CREATE_PERMISSION: Function = protected!(
    "create_permission",
    "POST",
    "/api/v1/permissions",
    Permission("permissions:create"),
    |b, guard| create_permission::handler(administration(b, &guard)?)
)
.idempotent();

pub const GET_PERMISSION: Function = protected!(
    "get_permission",
    "GET",
    "/api/v1/permissions/{id}",
    Permission("permissions:read"),
    |b, guard| get_permission::handler(administration(b, &guard)?)
);

pub const UPDATE_PERMISSION: Function = protected!(
    "update_permission",
    "PATCH",
    "/api/v1/permissions/{id}",
    Permission("permissions:update"),
    |b, guard| update_permission::handler(administration(b, &guard)?)
)
.idempotent();

pub const DELETE_PERMISSION: Function = protected!(
    "delete_permission",
    "DELETE",
    "/api/v1/permissions/{id}",
    Permission("permissions:delete"),
    |b, guard| delete_permission::handler(administration(b, &guard)?)
)
.idempotent();

pub const CREATE_JOB: Function = protected!(
    "create_job",
    "POST",
    "/api/v1/jobs",
    Permission("jobs:create"),
    |b, _guard| create_job::handler(create_job::Ports {
        jobs: JobRepo::new(b.store()?),
        clock: b.clock(),
        random: b.random(),
    })
)
.idempotent();

pub const LIST_JOBS: Function = protected!(
    "list_jobs",
    "GET",
    "/api/v1/jobs",
    Permission("jobs:list"),
    |b, _guard| list_jobs::handler(JobRepo::new(b.store()?), cursor_key(b)?)
);

pub const GET_JOB: Function = protected!(
    "get_job",
    "GET",
    "/api/v1/jobs/{id}",
    Permission("jobs:read"),
    |b, _guard| get_job::handler(JobRepo::new(b.store()?))
);

pub const CANCEL_JOB: Function = protected!(
    "cancel_job",
    "POST",
    "/api/v1/jobs/{id}/cancel",
    Permission("jobs:update"),
    |b, _guard| cancel_job::handler(JobRepo::new(b.store()?), b.clock())
)
.idempotent();

pub const RETRY_JOB: Function = protected!(
    "retry_job",
    "POST",
    "/api/v1/jobs/{id}/retry",
    Permission("jobs:update"),
    |b, _guard| retry_job::handler(JobRepo::new(b.store()?), b.clock(), b.random())
)
.idempotent();

pub const PURGE_EXPIRED: Function = schedule!("purge_expired", "rate(1 hour)", |b| {
    PurgeExpired::new(b.store()?)
});

pub const RELAY: Function = stream!("relay", |b| Relay::new(
    publisher(b)?,
    b.store()?,
    b.clock()
));

pub const CONSUMER: Function = queue!("consumer", EVENTS_QUEUE, |b| {
    let reactions = subscriptions(b.clock(), b.random())?;
    Consumer::new(b.store()?, b.clock(), reactions)
});

pub const RECONCILE_OUTBOX: Function = schedule!("reconcile_outbox", "rate(5 minutes)", |b| {
    let after = b.settings().outbox_reconcile_after;
    ReconcileOutbox::new(b.store()?, publisher(b)?, b.clock(), after)
});

pub const WORKER: Function = queue!("worker", JOBS_QUEUE, |b| Worker::new(
    b.store()?,
    b.jobs_queue()?,
    b.clock(),
    job_types(b)?
));

pub const AVATAR_UPLOADED: Function = queue!("avatar_uploaded", UPLOADS_QUEUE, |b| {
    AvatarUploaded::new(b.store()?, b.clock(), b.random())
});

pub const REDRIVE_STUCK_JOBS: Function = schedule!("redrive_stuck_jobs", "rate(5 minutes)", |b| {
    redrive_stuck_jobs(b)?
});

pub const CLEANUP_UNVERIFIED_USERS: Function =
    schedule!("cleanup_unverified_users", "rate(1 day)", |b| {
        cleanup_unverified_users(b)?
    });

/// Every function of the system: those of every [`packages::PACKAGES`]. Declare a function
/// above, then add it to the package whose binary should run it.
pub const FUNCTIONS: &[Function] = &packages::ALL;

/// Every job type the worker runs. Register a job type here.
pub fn job_types(b: &dyn Backend) -> anyhow::Result<Registry> {
    let send_email = SendEmail::new(
        b.mailer()?,
        b.store()?,
        b.clock(),
        b.random(),
        b.settings().app_url()?,
    );
    Ok(Registry::new()
        .with(send_email)
        .with(EraseUser::new(b.accounts()?, b.blobs()?))
        .with(ProcessAvatar::new(
            b.store()?,
            b.blobs()?,
            b.clock(),
            b.settings().public_blob_url()?,
        ))
        .with(ExportUsers::new(
            b.store()?,
            b.blobs()?,
            b.clock(),
            b.random(),
        ))
        .with(PurgeExpired::new(b.store()?))
        .with(redrive_stuck_jobs(b)?)
        .with(cleanup_unverified_users(b)?))
}

/// What checks the access tokens of protected routes and reads their callers.
pub fn authenticator(b: &dyn Backend) -> anyhow::Result<Authenticator> {
    let store = b.store()?;
    Ok(Authenticator {
        tokens: b.access_tokens()?,
        // The public half: a function that only verifies holds no key that could sign.
        keys: b.public_keys()?,
        users: UserRepo::new(store.clone()),
        catalog: CachedCatalog::new(store),
        clock: b.clock(),
        verified: VerifiedTokens::new(),
    })
}

/// The routes of `functions` on one router, the protected ones sharing one authenticator (and
/// so one role catalog cache): what the local system serves.
pub fn router(backend: &dyn Backend, functions: &[Function]) -> anyhow::Result<Router> {
    let mut shared: Option<Authenticator> = None;
    let mut router = Router::new();
    for function in functions.iter().filter(|f| f.route().is_some()) {
        let built = function.build(backend, || match &shared {
            Some(authenticator) => Ok(authenticator.clone()),
            None => Ok(shared.insert(authenticator(backend)?).clone()),
        })?;
        if let Built::Http(route) = built {
            router = router.merge(route);
        }
    }
    Ok(router)
}

/// The routes `functions` declare, for the deny-by-default check of [`crate::http::app`].
pub fn routes(functions: &[Function]) -> Vec<Route> {
    functions.iter().filter_map(Function::route).collect()
}

/// The key page cursors are sealed with.
fn cursor_key(b: &dyn Backend) -> anyhow::Result<CachedCursorKey> {
    let name = b.settings().cursor_key_secret.clone();
    Ok(CachedCursorKey::new(b.secrets()?, name, b.random()))
}

/// The catalog's administration, clearing the guard's catalog cache on every change.
fn administration(b: &dyn Backend, guard: &Authenticator) -> anyhow::Result<Administration> {
    let admin = RbacAdmin::new(b.store()?, b.clock(), b.random());
    Ok(Administration::new(admin, guard.catalog.clone()))
}

fn publisher(b: &dyn Backend) -> anyhow::Result<Publisher> {
    Ok(Publisher::new(b.events_queue()?, b.jobs_queue()?))
}

fn redrive_stuck_jobs(b: &dyn Backend) -> anyhow::Result<RedriveStuckJobs> {
    Ok(RedriveStuckJobs::new(b.store()?, b.clock(), b.random()))
}

fn cleanup_unverified_users(b: &dyn Backend) -> anyhow::Result<CleanupUnverifiedUsers> {
    Ok(CleanupUnverifiedUsers::new(
        b.accounts()?,
        b.settings().unverified_account_ttl,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use axum::body::Body;
    use infra::compose::LocalBackend;
    use infra::config::LocalConfig;
    use shared::clock::{OsRandom, SystemClock};
    use tower::ServiceExt;

    /// The routes that change something and still take no `Idempotency-Key`, and why.
    const NOT_KEYED: [(&str, &str); 3] = [
        (
            "login",
            "its answer is a pair of tokens, which are never stored",
        ),
        (
            "refresh",
            "its answer is a pair of tokens, and a rotated token is single-use",
        ),
        (
            "upload_avatar",
            "its answer is a signed upload form, a credential that is never stored",
        ),
    ];

    #[test]
    fn every_route_that_changes_something_takes_an_idempotency_key_or_says_why_not() {
        let mut unkeyed = Vec::new();
        for function in FUNCTIONS {
            let Some(route) = function.route() else {
                continue;
            };
            let changes = ["POST", "PATCH", "DELETE"].contains(&route.method);
            let exempt = NOT_KEYED.iter().any(|(name, _)| *name == function.name);
            assert!(
                !(exempt && function.is_idempotent()),
                "{} takes keys but is listed as not keyed",
                function.name
            );
            if changes && !function.is_idempotent() && !exempt {
                unkeyed.push(function.name);
            }
            if !changes {
                assert!(
                    !function.is_idempotent(),
                    "{}: {} does not change anything to key",
                    function.name,
                    route.method
                );
            }
        }
        assert!(
            unkeyed.is_empty(),
            "declare these `.idempotent()` or list them in NOT_KEYED with the reason: {unkeyed:?}"
        );
    }

    #[test]
    fn names_and_routes_are_declared_once() {
        let names: BTreeSet<_> = FUNCTIONS.iter().map(|f| f.name).collect();
        assert_eq!(
            names.len(),
            FUNCTIONS.len(),
            "a function name is declared twice"
        );
        let declared = routes(FUNCTIONS);
        let distinct: BTreeSet<_> = declared.iter().map(|r| (r.method, r.path)).collect();
        assert_eq!(distinct.len(), declared.len(), "a route is declared twice");
    }

    #[tokio::test]
    async fn every_job_type_creatable_over_http_is_run_by_the_worker() {
        let dir = tempfile::tempdir().unwrap();
        let config = LocalConfig::new(dir.path(), "http://127.0.0.1:3000");
        let backend = LocalBackend::open(config, Arc::new(SystemClock), Arc::new(OsRandom))
            .await
            .unwrap();
        let registered: BTreeSet<&str> = job_types(&backend).unwrap().names().collect();
        for creatable in crate::jobs::creatable::CREATABLE {
            assert!(registered.contains(creatable.name), "{}", creatable.name);
        }
        assert!(crate::jobs::creatable::find("send_email").is_none());
    }

    #[tokio::test]
    async fn every_function_builds_and_every_route_answers() {
        let dir = tempfile::tempdir().unwrap();
        let config = LocalConfig::new(dir.path(), "http://127.0.0.1:3000");
        let backend = LocalBackend::open(config, Arc::new(SystemClock), Arc::new(OsRandom))
            .await
            .unwrap();
        for function in FUNCTIONS {
            let built = function
                .build(&backend, || authenticator(&backend))
                .unwrap();
            assert_eq!(
                matches!(built, Built::Http(_)),
                function.route().is_some(),
                "{}",
                function.name
            );
        }
        let app = crate::http::app(router(&backend, FUNCTIONS).unwrap(), &routes(FUNCTIONS));
        for function in FUNCTIONS {
            let Some(route) = function.route() else {
                continue;
            };
            let request = http::Request::builder()
                .method(route.method)
                .uri(route.path)
                .body(Body::empty())
                .unwrap();
            let status = app
                .clone()
                .oneshot(request)
                .await
                .unwrap()
                .status()
                .as_u16();
            assert!(
                ![403, 404, 405].contains(&status),
                "{}: {} {} answered {status}",
                function.name,
                route.method,
                route.path
            );
        }
    }
}
