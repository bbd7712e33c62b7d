//! The HTTP API: routing, shared state and middleware. Handlers are thin: they parse, check
//! who is asking, call a domain module and shape the answer.

mod admin;
pub mod error;
mod extract;
pub mod group_commit;
// Public for the ledger simulation in tests/bench, which drives the real exactly-once path.
pub mod idempotent;
mod me;
mod onboarding;
pub mod openapi;
// Public for the ledger simulation in tests/bench, which runs payment batches itself.
pub mod payment_batch;
mod payments;
mod points;
mod posters;
mod public;
mod reports;
mod sale;
mod sale_page;
mod settlement;
mod store_mode;
mod stores;

use crate::auth::PinPolicy;
use crate::clock::Clock;
use crate::crypto::HashCost;
use crate::db::Db;
use crate::ops::access;
use crate::ops::limits::Limits;
use crate::programme::Programme;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chiiki_core::protocol::{ErrorCode, paths};
use error::ApiError;
pub use extract::{ClientIp, limit};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

/// Settings that are the server's, not the programme's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    pub hash_cost: HashCost,
    pub pin_policy: PinPolicy,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Send Strict-Transport-Security (when served over TLS, directly or by the proxy).
    pub hsts: bool,
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub programme: Arc<Programme>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    pub limits: Arc<Limits>,
    /// Set when shutdown begins: `/readyz` then says "not ready" so a load balancer stops
    /// sending new requests while the ones in flight finish.
    pub draining: Arc<AtomicBool>,
    /// The sale's webhook secret and admission gate.
    pub sale: crate::sale::SaleRuntime,
    /// The stores' live payment feed, document fonts and form key.
    pub stores: Arc<crate::stores::StoreServices>,
    /// Value-moving transactions, several to a commit: residents' payments on both engines,
    /// everything else too on SQLite.
    pub group_commit: group_commit::GroupCommit,
}

impl AppState {
    pub fn new(
        db: Db,
        programme: Programme,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> AppState {
        AppState {
            db,
            programme: Arc::new(programme),
            clock,
            settings,
            limits: Arc::new(Limits::default()),
            draining: Arc::new(AtomicBool::new(false)),
            sale: crate::sale::SaleRuntime::default(),
            stores: Arc::new(crate::stores::StoreServices::default()),
            group_commit: group_commit::GroupCommit::default(),
        }
    }
}

const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let hsts = state.settings.hsts;
    let router = Router::new()
        .route("/healthz", get(public::healthz))
        .route("/readyz", get(public::readyz))
        .route("/openapi.json", get(openapi::serve))
        .route("/metrics", get(public::metrics))
        .route(paths::PROGRAMME, get(public::programme))
        .route(paths::RESIDENTS, post(public::register))
        .route(paths::SESSIONS, post(public::login))
        .route(paths::STORES, get(public::directory))
        .route("/api/v1/stores/{id}", get(public::store))
        .route("/api/v1/stores/{id}/code", get(public::store_code))
        .route(paths::ME, get(me::me))
        .route(paths::ME_BALANCE, get(me::balance))
        .route(paths::ME_TRANSACTIONS, get(me::transactions))
        .route(paths::PAYMENTS, post(payments::pay))
        .route("/api/v1/payments/{id}/refunds", post(payments::refund))
        .route(paths::ADMIN_CHARGES, post(admin::charge))
        .route(paths::ADMIN_STORES, post(admin::create_store))
        .route(
            "/api/v1/admin/stores/{id}/approve",
            post(admin::approve_store),
        )
        .route(
            "/api/v1/admin/stores/{id}/staff",
            post(admin::create_store_staff),
        )
        .merge(sale::routes(&state))
        .merge(stores::routes())
        .merge(reports::routes())
        .merge(points::routes())
        .merge(crate::console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a handler panicked").into_response()
        }))
        .layer(axum::middleware::from_fn(access::log_request))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));
    if hsts {
        router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ))
    } else {
        router
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "この方法では使えません。 / Method not allowed.",
    )
}
