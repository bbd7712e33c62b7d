//! Reports over HTTP, for any staff role: the monthly and the final report as JSON, Excel and
//! CSV. The figures and every output are the `reports` module's; this only routes.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiQuery, Auth, ClientIp};
use crate::auth::{AuthError, Principal, PrincipalKind};
use crate::reports::{self, Period, Report};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chiiki_core::protocol::ErrorBody;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/reports/monthly", get(monthly))
        .route("/api/v1/admin/reports/monthly.xlsx", get(monthly_xlsx))
        .route("/api/v1/admin/reports/monthly.csv", get(monthly_csv))
        .route("/api/v1/admin/reports/final", get(final_json))
        .route("/api/v1/admin/reports/final.xlsx", get(final_xlsx))
        .route("/api/v1/admin/reports/final.csv", get(final_csv))
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    /// `2024-11`
    month: Option<String>,
    /// A table id for CSV (`summary`, `daily`, ...).
    table: Option<String>,
}

fn require_staff(who: &Principal) -> Result<(), ApiError> {
    if who.kind == PrincipalKind::Staff {
        Ok(())
    } else {
        Err(AuthError::Forbidden.into())
    }
}

async fn monthly_report(
    state: &AppState,
    who: &Principal,
    q: &ReportQuery,
) -> Result<(Report, String), ApiError> {
    require_staff(who)?;
    let text = q.month.as_deref().unwrap_or_default();
    let period = Period::parse_month(text)?;
    let report = reports::of_period(&state.db, &state.programme, period).await?;
    let name = format!("report-{}-{}", state.programme.id, text.trim());
    Ok((report, name))
}

async fn final_of(state: &AppState, who: &Principal) -> Result<(Report, String), ApiError> {
    require_staff(who)?;
    let report = reports::final_report(&state.db, &state.programme, state.clock.now()).await?;
    Ok((report, format!("report-{}-final", state.programme.id)))
}

fn download(content_type: &'static str, name: &str, body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const CSV: &str = "text/csv; charset=utf-8";

/// Every export is in the audit log before the file leaves (as the console's are).
async fn audit_export(
    state: &AppState,
    who: &Principal,
    ip: String,
    action: &str,
    file: &str,
    bytes: usize,
) -> Result<(), ApiError> {
    let entry = crate::audit::Action::new(who.actor(), ip, action)
        .target(format!("report:{file}"))
        .detail(serde_json::json!({ "file": file, "bytes": bytes }));
    crate::audit::record(&state.db, &entry, state.clock.now()).await?;
    tracing::info!(target: crate::ops::logs::OPERATION, staff = who.id, file, "report exported");
    Ok(())
}

async fn xlsx(
    state: &AppState,
    report: &Report,
    name: &str,
    who: &Principal,
    ip: String,
) -> Result<Response, ApiError> {
    let body = report.to_xlsx()?;
    let file = format!("{name}.xlsx");
    audit_export(state, who, ip, "export.report_xlsx", &file, body.len()).await?;
    Ok(download(XLSX, &file, body))
}

async fn csv(
    state: &AppState,
    report: &Report,
    name: &str,
    q: &ReportQuery,
    who: &Principal,
    ip: String,
) -> Result<Response, ApiError> {
    let table = q.table.as_deref().unwrap_or("summary");
    let body = report.to_csv(table)?;
    let file = format!("{name}-{table}.csv");
    audit_export(state, who, ip, "export.report_csv", &file, body.len()).await?;
    Ok(download(CSV, &file, body))
}

#[utoipa::path(get, path = "/api/v1/admin/reports/monthly", security(("bearer" = [])),
    params(("month" = String, Query, description = "YYYY-MM (JST month)")),
    responses((status = 200, description = "The monthly report (docs/reports.md)"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn monthly(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(monthly_report(&state, &who, &q).await?.0))
}

#[utoipa::path(get, path = "/api/v1/admin/reports/monthly.xlsx", security(("bearer" = [])),
    params(("month" = String, Query, description = "YYYY-MM (JST month)")),
    responses((status = 200, description = "Excel workbook, one sheet per table", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn monthly_xlsx(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let (report, name) = monthly_report(&state, &who, &q).await?;
    xlsx(&state, &report, &name, &who, ip).await
}

#[utoipa::path(get, path = "/api/v1/admin/reports/monthly.csv", security(("bearer" = [])),
    params(("month" = String, Query, description = "YYYY-MM (JST month)"),
           ("table" = Option<String>, Query, description = "summary (default), daily, industry, store_district, size_class, age_band, resident_district, points_event, points_age_band, points_district")),
    responses((status = 200, description = "One table as CSV, UTF-8 with BOM", content_type = "text/csv"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn monthly_csv(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let (report, name) = monthly_report(&state, &who, &q).await?;
    csv(&state, &report, &name, &q, &who, ip).await
}

#[utoipa::path(get, path = "/api/v1/admin/reports/final", security(("bearer" = [])),
    responses((status = 200, description = "The final report over the whole programme"), (status = 403, body = ErrorBody)))]
pub async fn final_json(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(final_of(&state, &who).await?.0))
}

#[utoipa::path(get, path = "/api/v1/admin/reports/final.xlsx", security(("bearer" = [])),
    responses((status = 200, description = "Excel workbook, one sheet per table", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
              (status = 403, body = ErrorBody)))]
pub async fn final_xlsx(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
) -> Result<Response, ApiError> {
    let (report, name) = final_of(&state, &who).await?;
    xlsx(&state, &report, &name, &who, ip).await
}

#[utoipa::path(get, path = "/api/v1/admin/reports/final.csv", security(("bearer" = [])),
    params(("table" = Option<String>, Query, description = "summary (default), daily, industry, store_district, size_class, age_band, resident_district, points_event, points_age_band, points_district")),
    responses((status = 200, description = "One table as CSV, UTF-8 with BOM", content_type = "text/csv"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn final_csv(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let (report, name) = final_of(&state, &who).await?;
    csv(&state, &report, &name, &q, &who, ip).await
}
