//! Prometheus metrics at `/metrics`: request rates and latencies per route, payments, errors,
//! and the database pools. The recorder is process-wide (the `metrics` facade has one), so it is
//! installed once and shared by every server in the process.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder on first use; `None` if another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .ok()
                .and_then(|b| b.install_recorder().ok())
        })
        .as_ref()
}

/// One finished HTTP request.
pub fn record_request(method: &str, route: &str, status: u16, seconds: f64) {
    let labels = [
        ("method", method.to_string()),
        ("route", route.to_string()),
        ("status", status.to_string()),
    ];
    metrics::counter!("chiiki_http_requests_total", &labels).increment(1);
    metrics::histogram!("chiiki_http_request_duration_seconds", "route" => route.to_string())
        .record(seconds);
    if status >= 500 {
        metrics::counter!("chiiki_http_server_errors_total", "route" => route.to_string())
            .increment(1);
    }
}

/// A payment's outcome: `accepted`, or the refusal's error code.
pub fn record_payment(outcome: &str, yen: i64) {
    metrics::counter!("chiiki_payments_total", "outcome" => outcome.to_string()).increment(1);
    if outcome == "accepted" {
        metrics::counter!("chiiki_payment_yen_total").increment(yen.unsigned_abs());
    }
}

/// Pool gauges, read at scrape time.
pub fn record_pool(name: &'static str, size: u32, idle: usize) {
    metrics::gauge!("chiiki_db_pool_connections", "pool" => name).set(f64::from(size));
    metrics::gauge!("chiiki_db_pool_idle", "pool" => name).set(idle as f64);
}
