//! The one authorization layer: every endpoint declares a [`Policy`], and [`route`] is the only
//! way an endpoint reaches a router, so none is mounted without one.
//!
//! A non-public route refuses a request before its handler runs unless it carries a valid
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
use axum::routing::MethodRouter;
use http::request::Parts;
use http::{HeaderMap, header};
use shared::accounts::ClientInfo;
use shared::auth::access_token::{AccessTokens, TokenError};
use shared::auth::key_cache::CachedKeySet;
use shared::auth::session::Session;
use shared::clock::Clock;
use shared::rbac::{Assignment, CachedCatalog, Catalog};
use shared::users::{User, UserRepo};
use uuid::Uuid;

use crate::http::ApiError;

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Anyone, without a token.
    Public,
    /// Any active user with a valid token.
    Authenticated,
    /// Holders of this permission.
    Permission(&'static str),
    /// Holders of this permission, or the user the path's `{id}` names.
    PermissionOrSelf(&'static str),
}

/// One endpoint: its function, its route, and who may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub function: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub policy: Policy,
}

/// An authenticated caller, as read for this request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub assignments: Vec<Assignment>,
    /// The user's sessions, this one among them.
    pub sessions: Vec<Session>,
    pub permissions: BTreeSet<String>,
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
}

impl Authenticator {
    pub fn from_backend(backend: &infra::compose::Backend) -> anyhow::Result<Self> {
        let store = backend.store()?;
        Ok(Self {
            tokens: backend.access_tokens()?,
            keys: backend.signing_keys()?,
            users: UserRepo::new(store.clone()),
            catalog: CachedCatalog::new(store),
            clock: backend.clock(),
        })
    }

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
        let claims = match self.tokens.verify(&keys, token, self.clock.now()) {
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

/// Mounts one endpoint's handler behind its policy. `authenticator` may be `None` only for
/// public endpoints; a protected one without it refuses every request.
pub fn route(
    endpoint: &Endpoint,
    handler: MethodRouter,
    authenticator: Option<Authenticator>,
) -> Router {
    let guarded = handler.route_layer(from_fn_with_state(
        (endpoint.policy, authenticator),
        authorize,
    ));
    Router::new().route(endpoint.path, guarded)
}

async fn authorize(
    State((policy, authenticator)): State<(Policy, Option<Authenticator>)>,
    request: Request,
    next: Next,
) -> Response {
    match check(policy, authenticator.as_ref(), request).await {
        Ok(request) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

async fn check(
    policy: Policy,
    authenticator: Option<&Authenticator>,
    request: Request,
) -> Result<Request, ApiError> {
    if policy == Policy::Public {
        return Ok(request);
    }
    let Some(authenticator) = authenticator else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "a protected route was mounted without an authenticator"
        )));
    };
    let (mut parts, body) = request.into_parts();
    let caller = authenticator.authenticate(&parts.headers).await?;
    let allowed = match policy {
        Policy::Public | Policy::Authenticated => true,
        Policy::Permission(permission) => caller.has(permission),
        Policy::PermissionOrSelf(permission) => {
            caller.has(permission) || path_id(&mut parts).await == Some(caller.user.id)
        }
    };
    if !allowed {
        return Err(ApiError::Forbidden {
            code: "forbidden",
            detail: "the caller lacks the permission this needs".into(),
        });
    }
    parts.extensions.insert(Arc::new(caller));
    Ok(Request::from_parts(parts, body))
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
        // refuses every request rather than serving anyone.
        parts
            .extensions
            .get::<Arc<Caller>>()
            .map(|caller| caller.as_ref().clone())
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
