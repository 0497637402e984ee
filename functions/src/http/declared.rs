//! Deny by default: a route answers only when its method and path are declared with a policy
//! (in [`crate::wiring::FUNCTIONS`], or the local system's own table). A route mounted without a
//! declaration is refused with 403 before its handler runs, and the omission is logged.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;

use std::sync::Arc;

use crate::auth::guard::Route;
use crate::http::ApiError;

/// The declared route a request was routed to, if any.
pub fn declaration<'a>(declared: &'a [Route], method: &Method, path: &str) -> Option<&'a Route> {
    // axum answers HEAD with a GET route.
    let method = if method == Method::HEAD {
        Method::GET.as_str()
    } else {
        method.as_str()
    };
    declared
        .iter()
        .find(|r| r.method == method && r.path == path)
}

pub(crate) async fn only_declared(
    State(declared): State<Arc<[Route]>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    match path {
        Some(path) if declaration(&declared, request.method(), &path).is_some() => {
            next.run(request).await
        }
        path => {
            tracing::error!(method = %request.method(), path = ?path, "a route without a declared policy was refused");
            ApiError::Forbidden {
                code: "forbidden",
                detail: "this route declares no policy".into(),
            }
            .into_response()
        }
    }
}
