//! The access log: one structured line per request (who, what, status, time), under the target
//! `chiiki::access`, inside a span carrying the request id so every log line of the request can
//! be found. Never logs bodies, headers or query strings: they can hold personal data and
//! secrets (PINs, tokens).

use super::metrics;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::Instrument;

/// Filled by the auth extractor so the access log can say who called.
#[derive(Clone, Default)]
pub struct CallerSlot(Arc<Mutex<Option<String>>>);

impl CallerSlot {
    pub fn set(&self, actor: String) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(actor);
        }
    }

    fn get(&self) -> String {
        self.0
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .unwrap_or_else(|| "-".to_string())
    }
}

pub async fn log_request(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let caller = CallerSlot::default();
    req.extensions_mut().insert(caller.clone());
    let span = tracing::info_span!("request", id = %request_id);
    let response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    metrics::record_request(&method, &route, status, seconds);
    span.in_scope(|| {
        tracing::info!(
            target: "chiiki::access",
            method,
            route,
            status,
            caller = %caller.get(),
            millis = (seconds * 1000.0).round() as u64,
        );
        if status >= 500 {
            tracing::error!(target: "chiiki::failure", method, route, status, "request failed");
        }
    });
    response
}
