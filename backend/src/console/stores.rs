//! Stores: applications to approve or reject, approved stores to suspend or reinstate, a
//! store's details, its poster and its payment history. The same domain functions as the
//! admin API (`stores::transition_with_reason`).

use super::payments::{PaymentRow, payment_rows};
use super::{Change, Chrome, CsrfField, PageResult, Params, Staff, page, see_other};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::stores;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use chiiki_core::protocol::{StoreRecord, StoreStatus};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/stores", get(list))
        .route("/console/stores/{id}", get(show))
        .route("/console/stores/{id}/decision", post(decide))
}

pub fn status_ja(status: StoreStatus) -> &'static str {
    match status {
        StoreStatus::Pending => "審査待ち",
        StoreStatus::Approved => "承認済み",
        StoreStatus::Rejected => "却下",
        StoreStatus::Suspended => "停止中",
    }
}

pub struct StoreLine {
    pub id: i64,
    pub name: String,
    pub industry: &'static str,
    pub district: String,
    pub status: &'static str,
    pub applied_at: String,
}

fn line(r: &StoreRecord) -> StoreLine {
    StoreLine {
        id: r.store.id,
        name: r.store.name.clone(),
        industry: r.store.industry.japanese_name(),
        district: r.store.district.clone(),
        status: status_ja(r.store.status),
        applied_at: r.applied_at.map(super::jst).unwrap_or_default(),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "console/stores.html")]
struct ListPage {
    chrome: Chrome,
    status: String,
    stores: Vec<StoreLine>,
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Params(query): Params<ListQuery>,
) -> PageResult {
    let status = query.status.as_deref().and_then(stores::parse_status);
    let records = stores::list(&state.db, status).await?;
    page(&ListPage {
        chrome: Chrome::new(&staff, "加盟店", "stores").with_flash(flash(query.done.as_deref())),
        status: query.status.unwrap_or_default(),
        stores: records.iter().map(line).collect(),
    })
}

fn flash(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "approved" => Some("加盟店を承認しました。"),
        "rejected" => Some("申請を却下しました。"),
        "suspended" => Some("加盟店を停止しました。"),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "console/store.html")]
struct StorePage {
    chrome: Chrome,
    record: StoreRecord,
    line: StoreLine,
    bank: Option<String>,
    pending: bool,
    approved: bool,
    suspended: bool,
    payments: Vec<PaymentRow>,
}

async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Params(query): Params<ListQuery>,
) -> PageResult {
    let done = query.done;
    let record = stores::record(&state.db, id).await?;
    let bank = record.bank_account.as_ref().map(|b| {
        format!(
            "{} {} {} {}",
            b.bank_name, b.branch_name, b.account_number, b.holder_name
        )
    });
    let payments = payment_rows(&state.db, None, Some(id), 50).await?;
    let title = format!("加盟店 {}", record.store.name);
    page(&StorePage {
        chrome: Chrome::new(&staff, &title, "stores").with_flash(flash(done.as_deref())),
        line: line(&record),
        bank,
        pending: record.store.status == StoreStatus::Pending,
        approved: record.store.status == StoreStatus::Approved,
        suspended: record.store.status == StoreStatus::Suspended,
        payments,
        record,
    })
}

#[derive(Deserialize)]
pub struct DecisionForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    reason: String,
}

impl CsrfField for DecisionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn decide(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Change { staff, form }: Change<DecisionForm>,
) -> PageResult {
    let (to, done) = match form.decision.as_str() {
        "approve" => (StoreStatus::Approved, "approved"),
        "reject" => (StoreStatus::Rejected, "rejected"),
        "suspend" => (StoreStatus::Suspended, "suspended"),
        _ => return Err(ApiError::invalid_field("decision", "操作を選んでください。").into()),
    };
    // Approval needs no reason; a rejection or a suspension must say why.
    let reason = match to {
        StoreStatus::Approved => None,
        _ => Some(stores::parse_reason(&form.reason)?),
    };
    let now = state.clock.now();
    let before = stores::detail(&state.db, id).await?.status;
    let store = stores::transition_with_reason(&state.db, id, to, reason.as_deref(), now).await?;
    let action = staff
        .audit(&format!("store.{}", form.decision))
        .target(format!("store:{id}"))
        .detail(serde_json::json!({
            "from": stores::status_name(before),
            "to": stores::status_name(store.status),
            "reason": reason,
        }));
    crate::audit::record_after(&state.db, action, now).await;
    tracing::info!(target: crate::ops::logs::CHANGE, staff = staff.id, store_id = id, status = ?to, "store status changed in the console");
    Ok(see_other(&format!("/console/stores/{id}?done={done}")))
}
