//! Chiiki's ledger server: residents, stores, payments and the staff's operations over an
//! HTTP API, on SQLite or PostgreSQL. The binary `chiiki` (main.rs) is a thin command line
//! over this library; tests start the same server on a random port.

pub mod auth;
pub mod clock;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod http;
pub mod idempotency;
pub mod ledger;
pub mod programme;
pub mod residents;
pub mod stores;

use std::future::Future;
use tokio::net::TcpListener;

pub use http::{AppState, Settings, router};

/// Serves the API on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
