//! Payments: search, one payment with its legs and its refunds, and refunds with a reason
//! (operators and administrators), through `ledger::refund` with the audit entry in the same
//! transaction.

use super::{Change, Chrome, CsrfField, PageResult, Params, Staff, page, see_other, yen};
use crate::clock::from_millis;
use crate::db::Db;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::ledger::{self, RefundInput};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use chiiki_core::Yen;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/payments", get(search))
        .route("/console/payments/{id}", get(show))
        .route("/console/payments/{id}/refund", post(refund))
}

pub struct PaymentRow {
    pub id: i64,
    pub at: String,
    pub resident_id: i64,
    pub store_id: i64,
    pub store_name: String,
    pub amount: String,
    pub refunded: String,
}

/// Payments, newest first, of one resident and/or one store.
pub async fn payment_rows(
    db: &Db,
    resident_id: Option<i64>,
    store_id: Option<i64>,
    limit: i64,
) -> Result<Vec<PaymentRow>, sqlx::Error> {
    let rows = sqlx::query_as::<_, (i64, i64, i64, i64, String, i64, i64)>(
        "SELECT o.id, o.created_at, o.resident_id, o.store_id, s.name, o.amount, o.refunded
         FROM operations o JOIN stores s ON s.id = o.store_id
         WHERE o.kind = 'payment' AND ($1 = 0 OR o.resident_id = $1) AND ($2 = 0 OR o.store_id = $2)
         ORDER BY o.id DESC LIMIT $3",
    )
    .bind(resident_id.unwrap_or(0))
    .bind(store_id.unwrap_or(0))
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, at, resident_id, store_id, store_name, amount, refunded)| PaymentRow {
                id,
                at: super::jst(from_millis(at)),
                resident_id,
                store_id,
                store_name,
                amount: yen(amount),
                refunded: yen(refunded),
            },
        )
        .collect())
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    payment: String,
    #[serde(default)]
    resident: String,
    #[serde(default)]
    store: String,
    #[serde(default)]
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "console/payments.html")]
struct SearchPage {
    chrome: Chrome,
    resident: String,
    store: String,
    payments: Vec<PaymentRow>,
}

fn id_field(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|id| *id > 0)
}

async fn search(
    State(state): State<AppState>,
    staff: Staff,
    Params(query): Params<SearchQuery>,
) -> PageResult {
    if let Some(id) = id_field(&query.payment) {
        return Ok(see_other(&format!("/console/payments/{id}")));
    }
    let payments = payment_rows(
        &state.db,
        id_field(&query.resident),
        id_field(&query.store),
        100,
    )
    .await?;
    page(&SearchPage {
        chrome: Chrome::new(&staff, "決済", "payments"),
        resident: query.resident,
        store: query.store,
        payments,
    })
}

pub struct Leg {
    pub from: String,
    pub to: String,
    pub amount: String,
    pub reverses: String,
}

pub struct RefundRow {
    pub id: i64,
    pub at: String,
    pub amount: String,
    pub actor: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "console/payment.html")]
struct PaymentPage {
    chrome: Chrome,
    payment: PaymentRow,
    refundable: i64,
    refundable_text: String,
    refunded_seen: i64,
    legs: Vec<Leg>,
    refunds: Vec<RefundRow>,
}

fn account_ja(kind: &str, issue: &str) -> String {
    let name = match kind {
        "resident_premium" => "住民のプレミアム残高",
        "resident_charged" => "住民のチャージ残高",
        "resident_points" => "住民のポイント",
        "store" => "加盟店",
        "issuer_premium" => "発行（プレミアム）",
        "issuer_points" => "発行（ポイント）",
        "fund" => "資金管理口座",
        "settled" => "精算済み",
        "expired" => "失効",
        other => other,
    };
    if issue.is_empty() || issue == "points" {
        name.to_string()
    } else {
        format!("{name}（{issue}）")
    }
}

async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Params(query): Params<SearchQuery>,
) -> PageResult {
    let done = query.done;
    let payment = ledger::find_payment(state.db.reader(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let store_name = sqlx::query_scalar::<_, String>("SELECT name FROM stores WHERE id = $1")
        .bind(payment.store_id)
        .fetch_one(state.db.reader())
        .await?;
    let (amount, refunded) = (payment.amount.get(), payment.refunded.get());
    let legs = sqlx::query_as::<_, (String, String, String, String, i64, Option<i64>)>(
        "SELECT d.kind, d.issue, c.kind, c.issue, t.amount, t.reverses_id
         FROM transfers t JOIN accounts d ON d.id = t.debit_account
                          JOIN accounts c ON c.id = t.credit_account
         WHERE t.operation_id = $1 OR t.operation_id IN
               (SELECT id FROM operations WHERE parent_id = $1 AND kind = 'refund')
         ORDER BY t.id",
    )
    .bind(id)
    .fetch_all(state.db.reader())
    .await?
    .into_iter()
    .map(|(dk, di, ck, ci, amount, reverses)| Leg {
        from: account_ja(&dk, &di),
        to: account_ja(&ck, &ci),
        amount: yen(amount),
        reverses: reverses
            .map(|r| format!("取消: 振替{r}"))
            .unwrap_or_default(),
    })
    .collect();
    let refunds = sqlx::query_as::<_, (i64, i64, i64, String, String)>(
        "SELECT id, created_at, amount, actor, detail FROM operations
         WHERE parent_id = $1 AND kind = 'refund' ORDER BY id",
    )
    .bind(id)
    .fetch_all(state.db.reader())
    .await?
    .into_iter()
    .map(|(rid, at, amount, actor, detail)| RefundRow {
        id: rid,
        at: super::jst(from_millis(at)),
        amount: yen(amount),
        actor,
        reason: serde_json::from_str::<serde_json::Value>(&detail)
            .ok()
            .and_then(|d| d.get("reason").and_then(|r| r.as_str()).map(str::to_string))
            .unwrap_or_default(),
    })
    .collect();
    let flash = (done.as_deref() == Some("refunded")).then_some("返金しました。");
    page(&PaymentPage {
        chrome: Chrome::new(&staff, &format!("決済 {id}"), "payments").with_flash(flash),
        payment: PaymentRow {
            id,
            at: super::jst(payment.created_at),
            resident_id: payment.resident_id,
            store_id: payment.store_id,
            store_name,
            amount: yen(amount),
            refunded: yen(refunded),
        },
        refundable: amount - refunded,
        refundable_text: yen(amount - refunded),
        refunded_seen: refunded,
        legs,
        refunds,
    })
}

#[derive(Deserialize)]
pub struct RefundForm {
    csrf: String,
    amount: String,
    #[serde(default)]
    reason: String,
    /// What had been refunded when the form was shown: a second submission of the same form
    /// (a double click, the back button) finds it changed and refunds nothing.
    refunded_seen: i64,
}

impl CsrfField for RefundForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A refund's amount and reason as typed.
pub fn parse_refund(amount: &str, reason: &str) -> Result<(Yen, String), ApiError> {
    let digits: String = amount
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '¥' && *c != '円')
        .collect();
    let amount = digits
        .parse::<i64>()
        .ok()
        .filter(|a| *a > 0)
        .ok_or_else(ApiError::amount_not_positive)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::invalid_field(
            "reason",
            "返金の理由を200文字以内で入力してください。",
        ));
    }
    Ok((Yen(amount), reason.to_string()))
}

async fn refund(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Change { staff, form }: Change<RefundForm>,
) -> PageResult {
    let (amount, reason) = parse_refund(&form.amount, &form.reason)?;
    let now = state.clock.now();
    let actor = staff.actor();
    let mut tx = state.db.begin().await?;
    let payment = ledger::find_payment(&mut *tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if payment.refunded.get() != form.refunded_seen {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            chiiki_core::protocol::ErrorCode::IdempotencyConflict,
            "この決済は、画面を開いた後に返金されています。開き直して確かめてください。",
        )
        .into());
    }
    let receipt = ledger::refund(
        &mut tx,
        RefundInput {
            payment_id: id,
            amount,
            reason: &reason,
            actor: &actor,
            only_store: None,
        },
        now,
    )
    .await?;
    let action = staff
        .audit("payment.refund")
        .target(format!("payment:{id}"))
        .detail(serde_json::json!({
            "amount": amount.get(),
            "reason": reason,
            "refund": serde_json::to_value(&receipt).unwrap_or_default(),
        }));
    crate::audit::record_in(&mut tx, &action, now)
        .await
        .map_err(ApiError::internal)?;
    tx.commit().await?;
    tracing::info!(target: crate::ops::logs::OPERATION, staff = staff.id, payment_id = id, amount = amount.get(), "refund in the console");
    Ok(see_other(&format!("/console/payments/{id}?done=refunded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_amounts_are_read_as_people_type_them() {
        assert_eq!(parse_refund("1,200", "誤請求").unwrap().0, Yen(1200));
        assert_eq!(parse_refund("¥860", "誤請求").unwrap().0, Yen(860));
        assert!(parse_refund("0", "誤請求").is_err());
        assert!(parse_refund("-5", "誤請求").is_err());
        assert!(parse_refund("abc", "誤請求").is_err());
        assert!(parse_refund("100", "  ").is_err());
    }
}
