//! The SDK's HTTP client: HTTP/1.1 over rustls on ring, idle connections kept per host.
//!
//! Every call this system makes to AWS (DynamoDB, SQS, S3, SES, Secrets Manager) is answered
//! over HTTP/1.1, so this client links no HTTP/2, and its TLS offers only what those endpoints
//! negotiate: TLS 1.3 and 1.2 with AES-GCM, X25519 or P-256 key exchange. The SDK's own client
//! brings HTTP/2 and every suite ring has, about 0.4 MB in every package. The system's
//! certificates are read on the first TLS connection, never at init.
//!
//! A connection goes back to its host's idle list once its response has been read to the end
//! (or is dropped when the body is not read, or the peer closes it); one idle longer than
//! [`IDLE_TIMEOUT`] is not reused. A request on a connection the peer closed meanwhile (a
//! function thawed after minutes) fails as an I/O error, which the SDK retries. No proxy is
//! read from the environment: a function reaches AWS directly or through VPC endpoints.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http::header::{HOST, HeaderValue};
use http::{Request, Uri};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long an idle connection is kept for reuse.
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Idle connections kept per host: a function makes a few calls at once at most.
const IDLE_PER_HOST: usize = 8;

/// The client every SDK client of the process shares.
#[derive(Debug, Clone, Default)]
pub(super) struct Http1Client {
    pool: Arc<Pool>,
}

impl HttpClient for Http1Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            pool: Arc::clone(&self.pool),
            connect_timeout: settings.connect_timeout(),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug)]
struct Connector {
    pool: Arc<Pool>,
    connect_timeout: Option<Duration>,
    /// The longest wait for a response's head once the request is sent.
    read_timeout: Option<Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let pool = Arc::clone(&self.pool);
        let (connect_timeout, read_timeout) = (self.connect_timeout, self.read_timeout);
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let (host, request) = origin_form(request)?;
            let mut sender = match pool.take(&host) {
                Some(sender) => sender,
                None => within(connect_timeout, pool.connect(&host)).await??,
            };
            let response = within(read_timeout, sender.send_request(request))
                .await?
                .map_err(from_hyper)?;
            pool.keep_when_ready(host, sender);
            let response = response.map(SdkBody::from_body_1_x);
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Where a connection leads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Host {
    tls: bool,
    name: String,
    port: u16,
}

/// The request as HTTP/1.1 sends it to `host`: a path and query after the method, the
/// authority in `Host` (as signed: the URI's authority, port included when it has one).
fn origin_form(request: Request<SdkBody>) -> Result<(Host, Request<SdkBody>), ConnectorError> {
    let (mut parts, body) = request.into_parts();
    let user = |reason: &str| ConnectorError::user(format!("{reason}: {}", parts.uri).into());
    let tls = match parts.uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(user("not an http or https URI")),
    };
    let authority = parts
        .uri
        .authority()
        .ok_or_else(|| user("no host"))?
        .clone();
    let host = Host {
        tls,
        name: authority.host().trim_matches(['[', ']']).to_owned(),
        port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
    };
    if !parts.headers.contains_key(HOST) {
        let value = HeaderValue::from_str(authority.as_str())
            .map_err(|e| ConnectorError::user(e.into()))?;
        parts.headers.insert(HOST, value);
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = Uri::try_from(path).map_err(|e| ConnectorError::user(e.into()))?;
    Ok((host, Request::from_parts(parts, body)))
}

/// Idle connections by host, and the TLS configuration, made on first use.
#[derive(Default)]
struct Pool {
    idle: Mutex<HashMap<Host, Vec<Idle>>>,
    tls: OnceLock<Result<TlsConnector, String>>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

struct Idle {
    sender: SendRequest<SdkBody>,
    since: Instant,
}

impl Pool {
    /// The most recently used idle connection to `host` that is still open and fresh.
    fn take(&self, host: &Host) -> Option<SendRequest<SdkBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let connections = idle.get_mut(host)?;
        while let Some(Idle { sender, since }) = connections.pop() {
            if since.elapsed() < IDLE_TIMEOUT && sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    /// Returns `sender` to the idle list once its connection can take another request: when
    /// the response's body has been read. A connection that ends first is dropped.
    fn keep_when_ready(self: &Arc<Self>, host: Host, mut sender: SendRequest<SdkBody>) {
        let pool = Arc::clone(self);
        tokio::spawn(async move {
            if sender.ready().await.is_ok() {
                let mut idle = pool.idle.lock().unwrap_or_else(PoisonError::into_inner);
                let connections = idle.entry(host).or_default();
                connections.retain(|c| c.since.elapsed() < IDLE_TIMEOUT);
                if connections.len() < IDLE_PER_HOST {
                    let since = Instant::now();
                    connections.push(Idle { sender, since });
                }
            }
        });
    }

    async fn connect(&self, host: &Host) -> Result<SendRequest<SdkBody>, ConnectorError> {
        let tcp = TcpStream::connect((host.name.as_str(), host.port))
            .await
            .map_err(|e| ConnectorError::io(e.into()))?;
        tcp.set_nodelay(true)
            .map_err(|e| ConnectorError::io(e.into()))?;
        if !host.tls {
            return handshake(tcp).await;
        }
        let tls = self
            .tls
            .get_or_init(tls_connector)
            .as_ref()
            .map_err(|reason| ConnectorError::other(reason.clone().into(), None))?;
        let name =
            ServerName::try_from(host.name.clone()).map_err(|e| ConnectorError::user(e.into()))?;
        let stream = tls
            .connect(name, tcp)
            .await
            .map_err(|e| ConnectorError::io(e.into()))?;
        handshake(stream).await
    }
}

/// Starts HTTP/1.1 on `io`; the connection runs on its own task until either side ends it.
async fn handshake<T>(io: T) -> Result<SendRequest<SdkBody>, ConnectorError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(from_hyper)?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "a connection to AWS ended");
        }
    });
    Ok(sender)
}

/// TLS as AWS's endpoints speak it, trusting the system's certificates.
fn tls_connector() -> Result<TlsConnector, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(format!(
            "no trusted certificate could be read from this system: {:?}",
            found.errors
        ));
    }
    tls_config(roots).map(|config| TlsConnector::from(Arc::new(config)))
}

/// TLS 1.3 and 1.2 with AES-GCM, X25519 or P-256, HTTP/1.1 by ALPN, trusting `roots`.
fn tls_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, String> {
    let provider = CryptoProvider {
        cipher_suites: vec![
            ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
            ring::cipher_suite::TLS13_AES_256_GCM_SHA384,
            ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ],
        kx_groups: vec![ring::kx_group::X25519, ring::kx_group::SECP256R1],
        ..ring::default_provider()
    };
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("configuring TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `work`, failed as a timeout after `limit` when there is one.
async fn within<T>(
    limit: Option<Duration>,
    work: impl Future<Output = T>,
) -> Result<T, ConnectorError> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .map_err(|e| ConnectorError::timeout(e.into())),
        None => Ok(work.await),
    }
}

/// A hyper error as the SDK's retry policy reads it: a connection that broke is an I/O error
/// (retried), anything else is not.
fn from_hyper(error: hyper::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_closed() || error.is_incomplete_message() || error.is_canceled() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> Request<SdkBody> {
        Request::builder().uri(uri).body(SdkBody::empty()).unwrap()
    }

    #[test]
    fn a_request_is_sent_in_origin_form_with_its_authority_as_host() {
        let (host, sent) =
            origin_form(request("https://dynamodb.eu-west-1.amazonaws.com/?a=b")).unwrap();
        assert_eq!(
            host,
            Host {
                tls: true,
                name: "dynamodb.eu-west-1.amazonaws.com".into(),
                port: 443
            }
        );
        assert_eq!(sent.uri(), "/?a=b");
        assert_eq!(sent.headers()[HOST], "dynamodb.eu-west-1.amazonaws.com");

        let (host, sent) = origin_form(request("http://127.0.0.1:5000/bucket/key")).unwrap();
        assert_eq!((host.tls, host.port), (false, 5000));
        assert_eq!(sent.uri(), "/bucket/key");
        assert_eq!(sent.headers()[HOST], "127.0.0.1:5000");
    }

    #[test]
    fn a_uri_of_another_scheme_is_refused() {
        assert!(origin_form(request("ftp://example.com/")).is_err());
    }

    /// A TLS server on loopback for `localhost`, offering `suites` (every suite ring has when
    /// `None`), answering each request with `200 ok`; and a pool that trusts its certificate.
    async fn tls_server(
        suites: Option<Vec<rustls::SupportedCipherSuite>>,
    ) -> (
        u16,
        Arc<Pool>,
        tokio::task::JoinHandle<Option<rustls::CipherSuite>>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = certified.cert.der().clone();
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(certified.key_pair.serialize_der()).unwrap();
        let mut provider = ring::default_provider();
        if let Some(suites) = suites {
            provider.cipher_suites = suites;
        }
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.ok()?;
            let mut tls = acceptor.accept(tcp).await.ok()?;
            let suite = tls.get_ref().1.negotiated_cipher_suite()?.suite();
            let mut buffer = [0; 4096];
            let read = tls.read(&mut buffer).await.ok()?;
            assert!(buffer[..read].starts_with(b"GET /path HTTP/1.1\r\n"));
            let response = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            tls.write_all(response).await.ok()?;
            tls.flush().await.ok()?;
            Some(suite)
        });
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let pool = Arc::new(Pool::default());
        let connector = TlsConnector::from(Arc::new(tls_config(roots).unwrap()));
        assert!(pool.tls.set(Ok(connector)).is_ok());
        (port, pool, server)
    }

    async fn get(pool: &Arc<Pool>, port: u16) -> Result<HttpResponse, ConnectorError> {
        let connector = Connector {
            pool: Arc::clone(pool),
            connect_timeout: Some(Duration::from_secs(5)),
            read_timeout: Some(Duration::from_secs(5)),
        };
        let request = Request::builder()
            .uri(format!("https://localhost:{port}/path"))
            .body(SdkBody::empty())
            .unwrap();
        connector
            .call(HttpRequest::try_from(request).unwrap())
            .await
    }

    #[tokio::test]
    async fn a_request_over_tls_negotiates_aes_gcm() {
        let (port, pool, server) = tls_server(None).await;
        let response = get(&pool, port).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let body = aws_smithy_types::byte_stream::ByteStream::new(response.into_body());
        assert_eq!(body.collect().await.unwrap().into_bytes(), &b"ok"[..]);
        let suite = server.await.unwrap().expect("the server saw a request");
        assert!(
            [
                rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
                rustls::CipherSuite::TLS13_AES_256_GCM_SHA384
            ]
            .contains(&suite),
            "{suite:?}"
        );
    }

    #[tokio::test]
    async fn a_server_offering_only_chacha20_is_refused() {
        let chacha = vec![ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256];
        let (port, pool, server) = tls_server(Some(chacha)).await;
        let error = get(&pool, port).await.unwrap_err();
        assert!(error.is_io(), "{error:?}");
        assert_eq!(server.await.unwrap(), None);
    }
}
