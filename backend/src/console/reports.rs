//! Reports: the monthly report of any month and the final report, as tables and charts, with
//! the Excel workbook and CSV downloads. The figures, charts and files are the reports
//! module's (`crate::reports`); this page only shows them and audits every export.

use super::{Chrome, PageResult, Params, Staff, download, page};
use crate::http::AppState;
use crate::reports::{self, Report};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chiiki_core::time::jst_date;
use chrono::Datelike;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/reports", get(show))
        .route("/console/reports/report.xlsx", get(xlsx))
        .route("/console/reports/report.csv", get(csv))
        .route("/console/reports/charts/{id}", get(chart))
}

/// Which report: `month=2024-11`, or `kind=final` for the whole programme.
#[derive(Deserialize, Default, Clone)]
pub struct Which {
    #[serde(default)]
    month: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    table: Option<String>,
}

impl Which {
    fn is_final(&self) -> bool {
        self.kind.as_deref() == Some("final")
    }

    /// The month asked for, or the current JST month.
    fn month(&self, state: &AppState) -> String {
        self.month
            .clone()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| {
                let today = jst_date(state.clock.now());
                format!("{:04}-{:02}", today.year(), today.month())
            })
    }

    /// The query string that names the same report.
    fn query(&self, state: &AppState) -> String {
        if self.is_final() {
            "kind=final".to_string()
        } else {
            format!("month={}", self.month(state))
        }
    }

    fn file_stem(&self, state: &AppState) -> String {
        if self.is_final() {
            format!("report-{}-final", state.programme.id)
        } else {
            format!("report-{}-{}", state.programme.id, self.month(state))
        }
    }
}

async fn compute(state: &AppState, which: &Which) -> Result<Report, super::Failure> {
    let report = if which.is_final() {
        reports::final_report(&state.db, &state.programme, state.clock.now()).await?
    } else {
        let period = reports::Period::parse_month(&which.month(state))?;
        reports::of_period(&state.db, &state.programme, period).await?
    };
    Ok(report)
}

pub struct ShownTable {
    pub id: &'static str,
    pub title: &'static str,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<(String, bool)>>,
}

#[derive(Template)]
#[template(path = "console/reports.html")]
struct ReportsPage {
    chrome: Chrome,
    month: String,
    label: String,
    query: String,
    tables: Vec<ShownTable>,
    charts: Vec<(&'static str, String)>,
}

async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Params(query): Params<Which>,
) -> PageResult {
    let which = query;
    let report = compute(&state, &which).await?;
    let tables = report
        .tables()
        .into_iter()
        .map(|t| ShownTable {
            id: t.id,
            title: t.title,
            headers: t.headers.clone(),
            rows: t
                .rows
                .iter()
                .map(|row| row.iter().map(|c| (c.plain(), c.is_numeric())).collect())
                .collect(),
        })
        .collect();
    let charts = report
        .charts()?
        .into_iter()
        .map(|c| (c.id, c.title))
        .collect();
    page(&ReportsPage {
        chrome: Chrome::new(&staff, "報告（月次・最終）", "reports"),
        month: which.month(&state),
        label: report.period.label.clone(),
        query: which.query(&state),
        tables,
        charts,
    })
}

async fn xlsx(
    State(state): State<AppState>,
    staff: Staff,
    Params(query): Params<Which>,
) -> PageResult {
    let which = query;
    let report = compute(&state, &which).await?;
    let bytes = tokio::task::spawn_blocking(move || report.to_xlsx())
        .await
        .map_err(crate::http::error::ApiError::internal)??;
    let name = format!("{}.xlsx", which.file_stem(&state));
    audit_export(&state, &staff, "export.report_xlsx", &name, bytes.len()).await?;
    Ok(download(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &name,
        bytes,
    ))
}

async fn csv(
    State(state): State<AppState>,
    staff: Staff,
    Params(query): Params<Which>,
) -> PageResult {
    let which = query;
    let table = which.table.clone().unwrap_or_else(|| "summary".to_string());
    let report = compute(&state, &which).await?;
    let bytes = report.to_csv(&table)?;
    let name = format!("{}-{}.csv", which.file_stem(&state), table);
    audit_export(&state, &staff, "export.report_csv", &name, bytes.len()).await?;
    Ok(download("text/csv; charset=utf-8", &name, bytes))
}

async fn audit_export(
    state: &AppState,
    staff: &Staff,
    action: &str,
    name: &str,
    bytes: usize,
) -> Result<(), super::Failure> {
    let entry = staff
        .audit(action)
        .target(format!("report:{name}"))
        .detail(serde_json::json!({ "file": name, "bytes": bytes }));
    crate::audit::record(&state.db, &entry, state.clock.now())
        .await
        .map_err(crate::http::error::ApiError::internal)?;
    Ok(())
}

/// A chart as an SVG image (shown with `<img>`, so nothing in it can run in the page).
async fn chart(
    State(state): State<AppState>,
    _staff: Staff,
    Path(id): Path<String>,
    Params(query): Params<Which>,
) -> PageResult {
    let which = query;
    let report = compute(&state, &which).await?;
    let id = id.trim_end_matches(".svg");
    let chart = report
        .charts()?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(crate::http::error::ApiError::not_found)?;
    let mut response = chart.svg.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
