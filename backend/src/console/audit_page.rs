//! The audit log page: the newest entries (JST), filtered by action or actor, a page at a
//! time, the chain's state, and the whole log as CSV (itself an audited export).

use super::{Chrome, PageResult, Params, Staff, download, page};
use crate::audit::{self, Filter};
use crate::http::AppState;
use crate::http::error::ApiError;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;

const PAGE: i64 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/audit", get(show))
        .route("/console/audit.csv", get(export))
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    before: Option<i64>,
}

pub struct Line {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub ip: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub hash: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    chrome: Chrome,
    action: String,
    actor: String,
    lines: Vec<Line>,
    older: Option<i64>,
    intact: bool,
    problems: Vec<String>,
    entries: usize,
}

async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Params(query): Params<AuditQuery>,
) -> PageResult {
    let filter = Filter {
        action: Some(query.action.trim().to_string()).filter(|a| !a.is_empty()),
        actor: Some(query.actor.trim().to_string()).filter(|a| !a.is_empty()),
        limit: PAGE,
        before_seq: query.before,
    };
    let entries = audit::list(&state.db, &filter)
        .await
        .map_err(ApiError::internal)?;
    let older = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let verified = audit::verify(&state.db).await.map_err(ApiError::internal)?;
    let lines = entries
        .into_iter()
        .map(|e| Line {
            at: super::jst(e.at()),
            seq: e.seq,
            actor: e.actor,
            ip: e.ip,
            action: e.action,
            target: e.target,
            detail: e.detail,
            hash: e.hash[..16].to_string(),
        })
        .collect();
    page(&AuditPage {
        chrome: Chrome::new(&staff, "操作記録（監査ログ）", "audit"),
        action: query.action,
        actor: query.actor,
        lines,
        older,
        intact: verified.problems.is_empty(),
        problems: verified.problems.iter().map(ToString::to_string).collect(),
        entries: verified.entries,
    })
}

async fn export(State(state): State<AppState>, staff: Staff) -> PageResult {
    let now = state.clock.now();
    // The export is recorded first, so the file contains its own entry.
    let action = staff.audit("export.audit_csv").target("audit");
    audit::record(&state.db, &action, now)
        .await
        .map_err(ApiError::internal)?;
    let entries = audit::all(&state.db).await.map_err(ApiError::internal)?;
    let name = format!("audit-{}.csv", chiiki_core::time::jst_date(now));
    Ok(download(
        "text/csv; charset=utf-8",
        &name,
        audit::csv(&entries),
    ))
}
