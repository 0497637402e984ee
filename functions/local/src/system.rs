//! The local system: the HTTP server with every endpoint and the local pages, plus the event
//! runtime, over one local backend.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::Context;
use axum::middleware::from_fn_with_state;
use functions::http;
use functions::wiring::{self, FUNCTIONS};
use infra::compose::{Backend, LocalBackend};
use infra::config::LocalConfig;
use shared::rbac::seed::seed;
use shared::users::Name;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::hosts::{self, Hosts};
use crate::options::Options;
use crate::runtime::Runtime;
use crate::{account_pages, blobs, mailbox};

/// The largest upload the local blob store reads. The presigned policies decide what is
/// accepted (avatars: 5 MB) and the upload route reads no more than its own limit; this one
/// only must not be the lower of the two.
const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// A running local system. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct LocalSystem {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    runtime: Vec<JoinHandle<()>>,
}

impl LocalSystem {
    /// Opens the data directory, makes sure a signing key set exists, and starts serving.
    pub async fn start(options: Options) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, options.port))
            .await
            .with_context(|| format!("listening on 127.0.0.1:{}", options.port))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let base_url = options
            .app_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let backend =
            LocalBackend::open_default(LocalConfig::new(options.data_dir.clone(), base_url))
                .await
                .with_context(|| {
                    format!(
                        "opening the local backend in {}",
                        options.data_dir.display()
                    )
                })?;

        // Generated once and kept in the data directory, so the kid survives restarts; its
        // public half is what the guards and the key set endpoint read.
        let keys = infra::compose::ensure_keys(&backend)
            .await
            .context("loading or creating the signing key set")?;
        tracing::info!(kid = %keys.current().kid, "signing keys ready");
        seed(backend.store()?.as_ref(), backend.clock().now())
            .await
            .context("seeding the role catalog")?;
        if let Some(admin) = &options.bootstrap_admin {
            let name = Name::parse("Administrator")?;
            let (user, created) = backend
                .accounts()?
                .ensure_admin(admin.email.clone(), name, admin.password.clone())
                .await
                .context("creating the bootstrap administrator")?;
            tracing::info!(user_id = %user.id, created, "bootstrap administrator ready");
        }

        // Uploads a killed process stored and never announced, before any new upload.
        backend
            .local_blobs()
            .announce_pending()
            .await
            .context("announcing the uploads stored before a crash")?;

        // The pages the mails link to call the API as a client would: through its router and
        // middleware.
        let api_for_pages = http::app(
            wiring::router(&backend, FUNCTIONS)?,
            &wiring::routes(FUNCTIONS),
        );
        let api = wiring::router(&backend, FUNCTIONS)?
            .merge(mailbox::routes(backend.mailbox()))
            .merge(account_pages::routes(api_for_pages));
        let uploads = blobs::routes(backend.local_blobs());
        let routes = http::limit(api, http::MAX_BODY_BYTES)
            .merge(http::limit(uploads, UPLOAD_LIMIT))
            .layer(from_fn_with_state(
                Hosts::of(addr, options.app_url.as_deref()),
                hosts::only_own,
            ));
        let declared = [
            wiring::routes(FUNCTIONS),
            crate::ROUTES.to_vec(),
            account_pages::ROUTES.to_vec(),
        ]
        .concat();
        let (stop, stopped) = watch::channel(false);
        let runtime = Runtime::new(&backend, FUNCTIONS)?.spawn(&stopped);
        let mut on_stop = stopped.clone();
        let server = tokio::spawn(
            axum::serve(
                listener,
                http::app_of_limited(routes, &declared)
                    .into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                // A dropped sender is a stop too.
                let _ = on_stop.wait_for(|stop| *stop).await;
            })
            .into_future(),
        );
        tracing::info!(url = %format!("http://{addr}"), data_dir = %options.data_dir.display(), "local system up");
        Ok(Self {
            addr,
            stop,
            server,
            runtime,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests, lets requests and batches in flight finish, and waits for
    /// every part to end.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        self.server
            .await
            .context("the server task failed")?
            .context("the server failed")?;
        for task in self.runtime {
            task.await.context("an event runtime task failed")?;
        }
        tracing::info!("local system stopped");
        Ok(())
    }

    /// Runs until `signal` completes, then stops.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        signal.await;
        tracing::info!("shutting down");
        self.stop().await
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
