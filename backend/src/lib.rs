//! Chiiki's ledger server: residents, stores, payments and the staff's operations over an
//! HTTP API, on SQLite or PostgreSQL. The binary `chiiki` (main.rs) is a thin command line
//! over this library; tests start the same server on a random port.

pub mod audit;
pub mod auth;
pub mod clock;
pub mod console;
pub mod crypto;
pub mod csrf;
pub mod db;
pub mod demo;
pub mod http;
pub mod idempotency;
pub mod ledger;
pub mod ops;
pub mod pdf;
pub mod points;
pub mod poster;
pub mod programme;
pub mod reports;
pub mod residents;
pub mod sale;
pub mod settlement;
pub mod store_mode;
pub mod stores;
pub mod vault;
pub mod zengin;

use std::future::Future;
use tokio::net::TcpListener;

pub use http::{AppState, Settings, router};

/// Serves the API on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::ops::metrics::handle();
    let _relay = state
        .stores
        .feed
        .relay(&state.db)
        .await
        .map_err(std::io::Error::other)?;
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves the API over TLS (rustls) with the PEM certificate chain and key, until `shutdown`
/// resolves; requests in flight get up to 30 seconds to finish.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    state: AppState,
    cert: &std::path::Path,
    key: &std::path::Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Another part of the process may have installed it first; either way one is in place.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
    crate::ops::metrics::handle();
    let handle = axum_server::Handle::<std::net::SocketAddr>::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
    });
    listener.set_nonblocking(true)?;
    let _relay = state
        .stores
        .feed
        .relay(&state.db)
        .await
        .map_err(std::io::Error::other)?;
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum_server::from_tcp_rustls(listener, config)?
        .handle(handle)
        .serve(app)
        .await
}
