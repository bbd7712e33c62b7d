//! The HTTP API: routing, shared state and middleware. Handlers are thin: they parse, check
//! who is asking, call a domain module and shape the answer.

mod admin;
pub mod error;
mod extract;
mod idempotent;
mod me;
pub mod openapi;
mod payments;
mod public;

use crate::auth::PinPolicy;
use crate::clock::Clock;
use crate::crypto::HashCost;
use crate::db::Db;
use crate::programme::Programme;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chiiki_core::protocol::{ErrorCode, paths};
use error::ApiError;
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Settings that are the server's, not the programme's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    pub hash_cost: HashCost,
    pub pin_policy: PinPolicy,
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub programme: Arc<Programme>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
}

const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/healthz", get(public::healthz))
        .route("/readyz", get(public::readyz))
        .route("/openapi.json", get(openapi::serve))
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
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
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
