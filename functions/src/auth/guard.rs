//! The one authorization layer. A route is mounted either with [`public`] or with
//! [`protected`], which takes a [`Policy`] and an [`Authenticator`]: a protected route without
//! an authenticator does not compile.
//!
//! A protected route refuses a request before its handler runs unless it carries a valid
//! access token of an active user whose token version it names (401), and, for a permission
//! policy, the caller holds the permission (403). The caller is read with one store query (the
//! user and their roles) plus the role catalog, cached for a few seconds. Handlers take
//! [`Caller`], which exists only when the layer let the request through.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on_service};
use http::request::Parts;
use http::{HeaderMap, Method, header};
use shared::accounts::ClientInfo;
use shared::auth::access_token::{AccessTokens, TokenError, VerifiedTokens};
use shared::auth::key_cache::CachedKeySet;
use shared::auth::session::Session;
use shared::clock::Clock;
use shared::rbac::{Assignment, CachedCatalog, Catalog};
use shared::users::{User, UserRepo};
use uuid::Uuid;

use crate::http::{ApiError, Handler};

/// Who may call a protected endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Any active user with a valid token.
    Authenticated,
    /// Holders of this permission.
    Permission(&'static str),
    /// Holders of this permission, or the user the path's `{id}` names.
    PermissionOrSelf(&'static str),
}

/// Whether a route asks for a token, and what its holder must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    Protected(Policy),
}

/// One route: its method, its path (API Gateway's `{param}` syntax, which axum shares) and who
/// may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

impl Route {
    pub const fn public(method: &'static str, path: &'static str) -> Self {
        Self {
            method,
            path,
            access: Access::Public,
        }
    }

    pub const fn protected(method: &'static str, path: &'static str, policy: Policy) -> Self {
        Self {
            method,
            path,
            access: Access::Protected(policy),
        }
    }
}

/// An authenticated caller, as read for this request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub assignments: Vec<Assignment>,
    /// The user's sessions, this one among them.
    pub sessions: Vec<Session>,
    pub permissions: BTreeSet<String>,
    /// The role catalog `permissions` were read from, so what a handler tells of the caller's
    /// roles agrees with what the guard decided on.
    pub catalog: Arc<Catalog>,
    /// The session the access token was issued for.
    pub session_id: Uuid,
}

impl Caller {
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }
}

/// Checks access tokens and reads callers.
#[derive(Debug, Clone)]
pub struct Authenticator {
    pub tokens: AccessTokens,
    pub keys: CachedKeySet,
    pub users: UserRepo,
    pub catalog: CachedCatalog,
    pub clock: Arc<dyn Clock>,
    /// Tokens whose signature this process has checked already.
    pub verified: VerifiedTokens,
}

impl Authenticator {
    /// The role catalog, from the cache while it is fresh.
    pub async fn catalog(&self) -> Result<Arc<Catalog>, ApiError> {
        self.catalog.get().await.map_err(|e| {
            ApiError::internal(anyhow::Error::new(e).context("reading the role catalog"))
        })
    }

    /// The caller a request's bearer token names.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let token =
            bearer(headers).ok_or_else(|| unauthorized("a bearer access token is required"))?;
        let keys = self.keys.get().await.map_err(|e| {
            ApiError::internal(anyhow::Error::new(e).context("reading the signing keys"))
        })?;
        let claims = match self
            .verified
            .verify(&self.tokens, &keys, token, self.clock.now())
        {
            Ok(claims) => claims,
            Err(TokenError::Expired) => return Err(unauthorized("the access token has expired")),
            Err(TokenError::Invalid(reason)) => {
                tracing::debug!(reason, "refused an access token");
                return Err(unauthorized("the access token is invalid"));
            }
            Err(e) => {
                return Err(ApiError::internal(
                    anyhow::Error::new(e).context("checking an access token"),
                ));
            }
        };
        let (Ok(user_id), Ok(session_id)) =
            (Uuid::parse_str(&claims.sub), Uuid::parse_str(&claims.sid))
        else {
            return Err(unauthorized("the access token is invalid"));
        };
        let caller =
            self.users.with_roles(user_id).await.map_err(|e| {
                ApiError::internal(anyhow::Error::new(e).context("reading the caller"))
            })?;
        let Some(caller) = caller.filter(|c| {
            c.user.is_active()
                && c.user.token_version == claims.ver
                && c.sessions.iter().any(|s| s.id == session_id)
        }) else {
            // Deleted, disabled, every token revoked since this one was issued, or its session
            // ended (logged out, or expired).
            return Err(unauthorized("the access token is no longer valid"));
        };
        let catalog = self.catalog().await?;
        Ok(Caller {
            permissions: catalog.permission_names(&caller.assignments),
            user: caller.user,
            assignments: caller.assignments,
            sessions: caller.sessions,
            catalog,
            session_id,
        })
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::Unauthorized {
        code: "unauthorized",
        detail: detail.to_owned(),
    }
}

/// Mounts a public route: the handler runs for anyone.
pub fn public(method: &str, path: &str, handler: Handler) -> anyhow::Result<Router> {
    Ok(Router::new().route(path, on(method, handler)?))
}

/// Mounts a protected route: `authenticator` reads the caller and `policy` decides before the
/// handler runs.
pub fn protected(
    method: &str,
    path: &str,
    policy: Policy,
    handler: Handler,
    authenticator: Authenticator,
) -> anyhow::Result<Router> {
    // The middleware's state is cloned for every request: an `Arc`, not the authenticator.
    let state = (policy, Arc::new(authenticator));
    let guarded = on(method, handler)?.route_layer(from_fn_with_state(state, authorize));
    Ok(Router::new().route(path, guarded))
}

fn on(method: &str, handler: Handler) -> anyhow::Result<MethodRouter> {
    let method = Method::from_bytes(method.as_bytes())?;
    let filter = MethodFilter::try_from(method.clone())
        .map_err(|e| anyhow::anyhow!("{method} cannot be routed: {e}"))?;
    Ok(on_service(filter, handler))
}

async fn authorize(
    State((policy, authenticator)): State<(Policy, Arc<Authenticator>)>,
    request: Request,
    next: Next,
) -> Response {
    match check(policy, &authenticator, request).await {
        Ok(request) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

async fn check(
    policy: Policy,
    authenticator: &Authenticator,
    request: Request,
) -> Result<Request, ApiError> {
    let (mut parts, body) = request.into_parts();
    let caller = authenticator.authenticate(&parts.headers).await?;
    if !allows(policy, &caller, &mut parts).await {
        return Err(ApiError::Forbidden {
            code: "forbidden",
            detail: "the caller lacks the permission this needs".into(),
        });
    }
    parts.extensions.insert(Arc::new(caller));
    Ok(Request::from_parts(parts, body))
}

/// Whether `policy` lets `caller` make this request.
async fn allows(policy: Policy, caller: &Caller, parts: &mut Parts) -> bool {
    match policy {
        Policy::Authenticated => true,
        Policy::Permission(permission) => caller.has(permission),
        Policy::PermissionOrSelf(permission) => {
            caller.has(permission) || path_id(parts).await == Some(caller.user.id)
        }
    }
}

async fn path_id(parts: &mut Parts) -> Option<Uuid> {
    let params = RawPathParams::from_request_parts(parts, &()).await.ok()?;
    params
        .iter()
        .find(|(name, _)| *name == "id")
        .and_then(|(_, value)| Uuid::parse_str(value).ok())
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only the guard inserts a caller: a handler that asks for one behind a public policy
        // refuses every request rather than serving anyone. Taken, not copied: the handler is
        // the caller's last reader, and a copy of its sessions and permissions is most of what
        // an authenticated read would allocate.
        parts
            .extensions
            .remove::<Arc<Caller>>()
            .map(Arc::unwrap_or_clone)
            .ok_or_else(|| unauthorized("a bearer access token is required"))
    }
}

/// The client as the request context tells: API Gateway's source IP on Lambda, the peer
/// address locally. Never X-Forwarded-For, which any client can write.
#[derive(Debug, Clone, Default)]
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        use lambda_http::request::RequestContext;
        let ip = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
            _ => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string()),
        };
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect());
        Ok(Client(ClientInfo { ip, user_agent }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http::StatusCode;
    use infra::compose::{Backend, LocalBackend};
    use infra::config::LocalConfig;
    use shared::accounts::register::NewAccount;
    use shared::auth::password::Password;
    use shared::clock::{OsRandom, SystemClock};
    use shared::rbac::model::seeded_role_id;
    use shared::rbac::seed::{MODERATOR, seed};
    use shared::users::{Email, Name};
    use tower::ServiceExt;

    const PASSWORD: &str = "correct horse battery staple";

    /// A seeded local backend with two verified users: a moderator (who holds `users:read`)
    /// and a plain user (who holds nothing), and an access token for each.
    struct Fixture {
        authenticator: Authenticator,
        moderator: (Uuid, String),
        user: (Uuid, String),
        _dir: tempfile::TempDir,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let config = LocalConfig::new(dir.path(), "http://127.0.0.1:3000");
        let backend = LocalBackend::open(config, Arc::new(SystemClock), Arc::new(OsRandom))
            .await
            .unwrap();
        infra::compose::ensure_keys(&backend).await.unwrap();
        seed(backend.store().unwrap().as_ref(), backend.clock().now())
            .await
            .unwrap();
        let accounts = backend.accounts().unwrap();
        let issuer = backend.token_issuer().unwrap();
        let mut signed_in = Vec::new();
        for (email, roles) in [
            ("mod@example.com", vec![seeded_role_id(MODERATOR)]),
            ("user@example.com", vec![]),
        ] {
            let user = accounts
                .create(NewAccount {
                    email: Email::parse(email).unwrap(),
                    name: Name::parse("Someone").unwrap(),
                    phone: None,
                    password: Password::parse(PASSWORD.to_owned()).unwrap(),
                    verified: true,
                    extra_roles: roles,
                })
                .await
                .unwrap();
            let session = accounts
                .login(&issuer, email, PASSWORD, &ClientInfo::default())
                .await
                .unwrap();
            signed_in.push((user.id, session.access.token));
        }
        let store = backend.store().unwrap();
        let user = signed_in.pop().unwrap();
        let moderator = signed_in.pop().unwrap();
        Fixture {
            authenticator: Authenticator {
                tokens: backend.access_tokens().unwrap(),
                keys: backend.public_keys().unwrap(),
                users: UserRepo::new(store.clone()),
                catalog: CachedCatalog::new(store),
                clock: backend.clock(),
                verified: VerifiedTokens::new(),
            },
            moderator,
            user,
            _dir: dir,
        }
    }

    fn ok() -> Handler {
        crate::http::handler(
            |caller: Caller| async move { caller.user.id.to_string() },
            (),
        )
    }

    /// The status of `GET uri` on a route of `path` mounted behind `policy`, with `token`.
    async fn status(
        fixture: &Fixture,
        policy: Policy,
        path: &str,
        uri: &str,
        token: Option<&str>,
    ) -> StatusCode {
        let router = protected("GET", path, policy, ok(), fixture.authenticator.clone()).unwrap();
        let mut request = http::Request::get(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = router
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        response.status()
    }

    #[tokio::test]
    async fn every_policy_lets_through_exactly_whom_it_names() {
        let f = fixture().await;
        let (moderator, user) = (f.moderator.1.as_str(), f.user.1.as_str());
        let own = format!("/users/{}", f.user.0);
        let other = format!("/users/{}", f.moderator.0);
        let read = Policy::Permission("users:read");
        let read_or_self = Policy::PermissionOrSelf("users:read");
        let cases = [
            (
                Policy::Authenticated,
                "/me",
                "/me",
                Some(user),
                StatusCode::OK,
            ),
            (
                Policy::Authenticated,
                "/me",
                "/me",
                None,
                StatusCode::UNAUTHORIZED,
            ),
            (read, "/users", "/users", Some(moderator), StatusCode::OK),
            (read, "/users", "/users", Some(user), StatusCode::FORBIDDEN),
            (read, "/users", "/users", None, StatusCode::UNAUTHORIZED),
            (
                read_or_self,
                "/users/{id}",
                &own,
                Some(user),
                StatusCode::OK,
            ),
            (
                read_or_self,
                "/users/{id}",
                &other,
                Some(user),
                StatusCode::FORBIDDEN,
            ),
            (
                read_or_self,
                "/users/{id}",
                &own,
                Some(moderator),
                StatusCode::OK,
            ),
            (
                read_or_self,
                "/users/{id}",
                "/users/not-an-id",
                Some(user),
                StatusCode::FORBIDDEN,
            ),
            (
                read_or_self,
                "/users/{id}",
                &own,
                None,
                StatusCode::UNAUTHORIZED,
            ),
            (
                Policy::Authenticated,
                "/me",
                "/me",
                Some("garbage"),
                StatusCode::UNAUTHORIZED,
            ),
        ];
        for (policy, path, uri, token, expected) in cases {
            let who = match token {
                Some(t) if t == moderator => "the moderator",
                Some(t) if t == user => "the user",
                Some(_) => "a garbage token",
                None => "no token",
            };
            assert_eq!(
                status(&f, policy, path, uri, token).await,
                expected,
                "{policy:?} on {uri} with {who}"
            );
        }
    }

    #[tokio::test]
    async fn a_public_route_needs_no_token_and_names_no_caller() {
        let open = crate::http::handler(|| async { "open" }, ());
        let router = public("GET", "/open", open).unwrap();
        let request = http::Request::get("/open").body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);

        // A handler that asks for a caller behind a public route serves no one.
        let router = public("GET", "/who", ok()).unwrap();
        let request = http::Request::get("/who").body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn a_route_refuses_a_method_it_cannot_name() {
        assert!(public("NOT A METHOD", "/x", ok()).is_err());
    }
}
