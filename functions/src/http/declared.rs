//! Deny by default: a route answers only when its method and path are declared with a policy
//! (in [`crate::api::ENDPOINTS`], or the local system's own table). A route mounted without a
//! declaration is refused with 403 before its handler runs, and the omission is logged.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;

use crate::auth::guard::Endpoint;
use crate::http::ApiError;

/// The tables of declared routes an app serves.
pub type Declared = &'static [&'static [Endpoint]];

/// The declared endpoint a request was routed to, if any.
pub fn declaration(declared: Declared, method: &Method, path: &str) -> Option<&'static Endpoint> {
    // axum answers HEAD with a GET route.
    let method = if method == Method::HEAD {
        Method::GET.as_str()
    } else {
        method.as_str()
    };
    declared
        .iter()
        .flat_map(|table| table.iter())
        .find(|e| e.method == method && e.path == path)
}

pub(crate) async fn only_declared(
    State(declared): State<Declared>,
    request: Request,
    next: Next,
) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    match path {
        Some(path) if declaration(declared, request.method(), &path).is_some() => {
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
