//! The HTTP side of the local blob store: the target of presigned upload forms and the signed
//! download URLs, answering as S3 does (204 on upload, 403 on a refused form or URL).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use infra::blob::local::{DownloadRejected, LocalBlobs, ROUTE, UploadRejected};
use serde::Deserialize;
use serde_json::json;

/// The largest upload body the local server reads; each form's own policy is usually tighter.
const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// Where forms post their uploads.
pub const UPLOAD_PATH: &str = ROUTE;
/// Where signed download links point: below [`UPLOAD_PATH`].
pub const DOWNLOAD_PATH: &str = "/_local/blobs/{*key}";

/// Where the public blobs (avatars) are served to anyone, as a CDN would.
pub const PUBLIC_PATH: &str = "/_local/public/{*key}";

/// `POST /_local/blobs` (multipart form, the file part last), `GET /_local/blobs/{key}` and
/// `GET /_local/public/{key}`.
pub fn routes(blobs: Arc<LocalBlobs>) -> Router {
    Router::new()
        .route(
            UPLOAD_PATH,
            post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route(DOWNLOAD_PATH, get(download))
        .route(PUBLIC_PATH, get(public))
        .with_state(blobs)
}

fn problem(status: StatusCode, code: &str, detail: &str, reason: Option<&str>) -> Response {
    let mut body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    });
    if let Some(reason) = reason {
        body["reason"] = reason.into();
    }
    let headers = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    )];
    (status, headers, body.to_string()).into_response()
}

fn internal(error: &anyhow::Error) -> Response {
    tracing::error!(error = format!("{error:#}"), "a local blob request failed");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong",
        None,
    )
}

/// Reads the form fields up to the file part; like S3, ignores anything after the file.
async fn read_form(
    mut multipart: Multipart,
) -> Result<(BTreeMap<String, String>, Vec<u8>), Response> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        problem(
            e.status(),
            "bad_request",
            &format!("unreadable form: {}", e.body_text()),
            None,
        )
    };
    let mut fields = BTreeMap::new();
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let file = field.bytes().await.map_err(unreadable)?;
            return Ok((fields, file.to_vec()));
        }
        fields.insert(name, field.text().await.map_err(unreadable)?);
    }
    Err(problem(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "the form has no file field",
        None,
    ))
}

async fn upload(
    State(blobs): State<Arc<LocalBlobs>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let multipart = match multipart {
        Ok(multipart) => multipart,
        Err(rejection) => {
            return problem(
                rejection.status(),
                "bad_request",
                &rejection.body_text(),
                None,
            );
        }
    };
    let (fields, file) = match read_form(multipart).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    match blobs.accept_upload(&fields, file).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(UploadRejected::Unexpected(e)) => internal(&e),
        Err(rejected) => problem(
            StatusCode::FORBIDDEN,
            "upload_rejected",
            &rejected.to_string(),
            Some(rejected.reason()),
        ),
    }
}

async fn public(State(blobs): State<Arc<LocalBlobs>>, Path(key): Path<String>) -> Response {
    match blobs.public(&key).await {
        Ok(Some(blob)) => serve(blob, "public, max-age=86400, immutable"),
        Ok(None) | Err(shared::blob::BlobError::InvalidKey(_)) => {
            problem(StatusCode::NOT_FOUND, "not_found", "no such blob", None)
        }
        Err(shared::blob::BlobError::Unexpected(e)) => internal(&e),
    }
}

/// A blob's bytes, which are untrusted uploads or derived from them: never something a
/// browser may run on this origin.
fn serve(blob: shared::blob::Blob, cache: &'static str) -> Response {
    let Ok(content_type) = HeaderValue::from_str(&blob.content_type) else {
        return internal(&anyhow::anyhow!(
            "a stored content type is not a header value"
        ));
    };
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
    ];
    (headers, blob.bytes).into_response()
}

#[derive(Deserialize)]
struct Signed {
    expires: Option<i64>,
    signature: Option<String>,
}

async fn download(
    State(blobs): State<Arc<LocalBlobs>>,
    Path(key): Path<String>,
    query: Result<Query<Signed>, QueryRejection>,
) -> Response {
    let forbidden =
        |detail: &str| problem(StatusCode::FORBIDDEN, "download_rejected", detail, None);
    let Ok(Query(Signed {
        expires: Some(expires),
        signature: Some(signature),
    })) = query
    else {
        return forbidden("the URL is not signed");
    };
    match blobs.download(&key, expires, &signature).await {
        Ok(blob) => serve(blob, "private, no-store"),
        Err(DownloadRejected::NotFound) => {
            problem(StatusCode::NOT_FOUND, "not_found", "no such blob", None)
        }
        Err(DownloadRejected::Unexpected(e)) => internal(&e),
        Err(rejected) => forbidden(&rejected.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use shared::blob::{BlobStore, UploadForms, UploadPolicy};
    use shared::clock::SystemClock;
    use tower::ServiceExt;

    #[test]
    fn downloads_are_below_uploads() {
        assert_eq!(DOWNLOAD_PATH.strip_suffix("/{*key}"), Some(UPLOAD_PATH));
        assert_eq!(
            PUBLIC_PATH.strip_suffix("/{*key}"),
            Some(infra::blob::local::PUBLIC_ROUTE)
        );
    }

    fn blobs(dir: &std::path::Path) -> Arc<LocalBlobs> {
        Arc::new(LocalBlobs::new(
            dir.to_owned(),
            "http://localhost".into(),
            [1; 32],
            Arc::new(SystemClock),
        ))
    }

    fn multipart(fields: &BTreeMap<String, String>, file: &[u8]) -> anyhow::Result<Request<Body>> {
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend(
                format!(
                    "--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .bytes(),
            );
        }
        body.extend(
            b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n",
        );
        body.extend(file);
        body.extend(b"\r\n--B--\r\n");
        Ok(Request::post(ROUTE)
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
            .body(Body::from(body))?)
    }

    async fn problem_of(response: Response) -> anyhow::Result<serde_json::Value> {
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        Ok(serde_json::from_slice(
            &response.into_body().collect().await?.to_bytes(),
        )?)
    }

    #[tokio::test]
    async fn an_upload_is_stored_and_a_refused_one_gets_a_problem_with_its_reason()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let blobs = blobs(dir.path());
        let policy = UploadPolicy {
            key: "a/b.txt".into(),
            content_type: "text/plain".into(),
            max_bytes: 4,
            expires_in: std::time::Duration::from_secs(60),
        };
        let fields = blobs.presign_upload(&policy).await?.fields;

        let response = routes(blobs.clone())
            .oneshot(multipart(&fields, b"toolong")?)
            .await?;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(problem_of(response).await?["reason"], "size_out_of_range");

        let response = routes(blobs.clone())
            .oneshot(multipart(&fields, b"ok")?)
            .await?;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            blobs.get("a/b.txt").await?.map(|b| b.bytes),
            Some(b"ok".to_vec())
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_download_without_a_valid_signature_is_forbidden() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let blobs = blobs(dir.path());
        blobs
            .put("a/b.txt", b"secret".to_vec(), "text/plain")
            .await?;
        for uri in [
            "/_local/blobs/a/b.txt",
            "/_local/blobs/a/b.txt?expires=99999999999&signature=00",
        ] {
            let response = routes(blobs.clone())
                .oneshot(Request::get(uri).body(Body::empty())?)
                .await?;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{uri}");
            assert_eq!(problem_of(response).await?["code"], "download_rejected");
        }
        Ok(())
    }
}
