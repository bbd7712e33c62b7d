//! Settlement: the closed cycles, a cycle's per-store statements, the Zengin transfer file,
//! and marking transfers paid or returned by the bank. The same domain functions as the admin
//! API (`settlement::*`), with the audit entry in the transaction that marks.

use super::{
    Change, Chrome, CsrfField, DoneQuery, PageResult, Params, Staff, download, page, see_other, yen,
};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::settlement::{self, statement};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use chiiki_core::protocol::PayoutStatus;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/settlement", get(list))
        .route("/console/settlement/close", post(close))
        .route("/console/settlement/{period}", get(show))
        .route("/console/settlement/{period}/zengin", get(zengin))
        .route(
            "/console/settlement/{period}/stores/{store}/mark",
            post(mark),
        )
}

pub struct Cycle {
    pub period: String,
    pub days: String,
    pub payout_date: String,
    pub transfers: i64,
    pub total: String,
    pub fee: String,
}

#[derive(Template)]
#[template(path = "console/settlements.html")]
struct ListPage {
    chrome: Chrome,
    cycles: Vec<Cycle>,
}

fn flash(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "closed" => Some("締めました。振込ファイルと明細ができました。"),
        "paid" => Some("振込済みにしました。"),
        "returned" => Some("組戻し（返却）を記録しました。次の期間に繰り越します。"),
        _ => None,
    }
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Params(query): Params<DoneQuery>,
) -> PageResult {
    let done = query.done;
    let cycles = settlement::list(&state.db, &state.programme)
        .await?
        .into_iter()
        .map(|c| Cycle {
            days: format!(
                "{}〜{}",
                chiiki_core::time::format_date(c.first_day),
                chiiki_core::time::format_date(c.last_day)
            ),
            payout_date: chiiki_core::time::format_date(c.payout_date),
            transfers: c.transfer_count,
            total: c.transfer_total.to_string(),
            fee: c.fee_total.to_string(),
            period: c.period,
        })
        .collect();
    page(&ListPage {
        chrome: Chrome::new(&staff, "精算", "settlement").with_flash(flash(done.as_deref())),
        cycles,
    })
}

pub struct Line {
    pub store_id: i64,
    pub store_name: String,
    pub payments: i64,
    pub gross: String,
    pub refunds: String,
    pub carried_in: String,
    pub due: String,
    pub status: &'static str,
    pub payable: bool,
    pub returnable: bool,
}

#[derive(Template)]
#[template(path = "console/settlement.html")]
struct CyclePage {
    chrome: Chrome,
    period: String,
    payout_date: String,
    total: String,
    has_file: bool,
    lines: Vec<Line>,
}

async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(text): Path<String>,
    Params(query): Params<DoneQuery>,
) -> PageResult {
    let done = query.done;
    let period = settlement::parse_period(&state.programme, &text)?;
    let closed = settlement::load(&state.db, &state.programme, period)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let summary = &closed.settlement.summary;
    let lines = closed
        .settlement
        .lines
        .iter()
        .map(|l| Line {
            store_id: l.store_id,
            store_name: l.store_name.clone(),
            payments: l.payment_count,
            gross: l.gross.to_string(),
            refunds: l.refunds.to_string(),
            carried_in: l.carried_in.to_string(),
            due: l.amount_due.to_string(),
            status: statement::status_ja(l.status),
            payable: l.status == PayoutStatus::Scheduled,
            returnable: l.status == PayoutStatus::Paid,
        })
        .collect();
    page(&CyclePage {
        chrome: Chrome::new(&staff, &format!("精算 {period}"), "settlement")
            .with_flash(flash(done.as_deref())),
        period: period.to_string(),
        payout_date: chiiki_core::time::format_date(summary.payout_date),
        total: yen(summary.transfer_total.get()),
        has_file: closed.transfer_file.is_some(),
        lines,
    })
}

async fn zengin(
    State(state): State<AppState>,
    staff: Staff,
    Path(text): Path<String>,
) -> PageResult {
    // The file holds bank accounts: operators and administrators only.
    if !staff.can_operate() {
        return Err(crate::auth::AuthError::Forbidden.into());
    }
    let period = settlement::parse_period(&state.programme, &text)?;
    let closed = settlement::load(&state.db, &state.programme, period)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let name = closed.transfer_file_name(&state.programme);
    let file = closed.transfer_file.ok_or_else(ApiError::not_found)?;
    let now = state.clock.now();
    let action = staff
        .audit("export.zengin")
        .target(format!("settlement:{period}"))
        .detail(serde_json::json!({ "bytes": file.len(), "file": name }));
    crate::audit::record(&state.db, &action, now)
        .await
        .map_err(ApiError::internal)?;
    Ok(download("application/octet-stream", &name, file))
}

#[derive(Deserialize)]
pub struct CloseForm {
    csrf: String,
    period: String,
}

impl CsrfField for CloseForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn close(
    State(state): State<AppState>,
    Change { staff, form }: Change<CloseForm>,
) -> PageResult {
    let period = settlement::parse_period(&state.programme, form.period.trim())?;
    let now = state.clock.now();
    let closed =
        settlement::close(&state.db, &state.programme, period, &staff.actor(), now).await?;
    let summary = &closed.settlement.summary;
    let action = staff
        .audit("settlement.close")
        .target(format!("settlement:{period}"))
        .detail(serde_json::json!({
            "transfers": summary.transfer_count,
            "total": summary.transfer_total.get(),
        }));
    crate::audit::record_after(&state.db, action, now).await;
    Ok(see_other(&format!(
        "/console/settlement/{period}?done=closed"
    )))
}

#[derive(Deserialize)]
pub struct MarkForm {
    csrf: String,
    mark: String,
    #[serde(default)]
    reason: String,
}

impl CsrfField for MarkForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn mark(
    State(state): State<AppState>,
    Path((text, store_id)): Path<(String, i64)>,
    Change { staff, form }: Change<MarkForm>,
) -> PageResult {
    let period = settlement::parse_period(&state.programme, &text)?;
    let now = state.clock.now();
    let actor = staff.actor();
    let mut tx = state.db.begin().await?;
    let (receipt, done, reason) = match form.mark.as_str() {
        "paid" => (
            settlement::mark_paid(&mut tx, &state.programme, period, store_id, &actor, now).await?,
            "paid",
            None,
        ),
        "returned" => {
            let reason = crate::stores::parse_reason(&form.reason)?;
            let receipt = settlement::mark_returned(
                &mut tx,
                &state.programme,
                period,
                store_id,
                &reason,
                &actor,
                now,
            )
            .await?;
            (receipt, "returned", Some(reason))
        }
        _ => return Err(ApiError::invalid_field("mark", "操作を選んでください。").into()),
    };
    let action = staff
        .audit(&format!("settlement.{done}"))
        .target(format!("settlement:{period}/store:{store_id}"))
        .detail(serde_json::json!({
            "reason": reason,
            "receipt": serde_json::to_value(&receipt).unwrap_or_default(),
        }));
    crate::audit::record_in(&mut tx, &action, now)
        .await
        .map_err(ApiError::internal)?;
    tx.commit().await?;
    Ok(see_other(&format!(
        "/console/settlement/{period}?done={done}"
    )))
}
