//! The sale: applications and sets requested, the lottery (commit to a seed, draw by revealing
//! it, the results), winners paying at the counter, counter purchases, the additional sale's
//! stock, and expiry. The same domain functions as the admin API and `chiiki sale`.
//!
//! Committing shows the new seed once: the operator keeps it (printed, or in the sealed
//! envelope the city's rules ask for) and types it back to draw. The server never stores it
//! before the draw, so nobody can draw early or try seeds.

use super::{
    Change, Chrome, CsrfField, PageResult, Params, PlainForm, Staff, jst, page, see_other, yen,
};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::sale::applications::SetCount;
use crate::sale::lottery::{self, Seed};
use crate::sale::purchase::{self, Payment, PaymentReference};
use crate::sale::{SaleError, expiry};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use chiiki_core::protocol::{SalePaymentMethod, SalePhase};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/sale", get(show))
        .route("/console/sale/commit", post(commit))
        .route("/console/sale/draw", post(draw))
        .route("/console/sale/counter", post(counter))
        .route("/console/sale/order-payment", post(order_payment))
        .route("/console/sale/expire", post(expire))
}

pub fn phase_ja(phase: SalePhase) -> &'static str {
    match phase {
        SalePhase::NotYetOpen => "申込み開始前",
        SalePhase::ApplicationsOpen => "申込み受付中",
        SalePhase::AwaitingDraw => "抽選待ち",
        SalePhase::WinnersPaying => "当選者の購入期間",
        SalePhase::AdditionalSale => "追加販売中",
        SalePhase::Closed => "販売終了",
    }
}

pub struct ResultLine {
    pub rank: i64,
    pub pseudonym: String,
    pub requested: i64,
    pub won: i64,
}

/// A winner's order still waiting for payment, as the counter looks it up.
pub struct UnpaidOrder {
    pub id: i64,
    pub resident_id: i64,
    pub sets: i64,
    pub amount: String,
    pub pay_by: String,
}

/// How many unpaid orders the page lists; a resident id narrows the list.
const UNPAID_SHOWN: i64 = 100;

#[derive(Template)]
#[template(path = "console/sale.html")]
struct SalePage {
    chrome: Chrome,
    phase: &'static str,
    summary: chiiki_core::protocol::SaleSummary,
    price: String,
    committed: bool,
    commitment: String,
    drawn: bool,
    seed: String,
    new_seed: Option<String>,
    winners: usize,
    sets_won: i64,
    results: Vec<ResultLine>,
    counter_orders: Vec<String>,
    unpaid: Vec<UnpaidOrder>,
    unpaid_total: i64,
    unpaid_truncated: bool,
    unpaid_resident: String,
    can_commit: bool,
}

#[derive(Deserialize, Default)]
pub struct SaleQuery {
    #[serde(default)]
    done: Option<String>,
    /// Narrows the winners' unpaid orders to one resident.
    #[serde(default)]
    resident: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Params(query): Params<SaleQuery>,
) -> PageResult {
    let resident = query
        .resident
        .as_deref()
        .and_then(|r| r.trim().parse::<i64>().ok());
    render(&state, &staff, query.done.as_deref(), resident, None).await
}

/// The page; `new_seed` only in the answer to the commit itself (never in a URL, which
/// access logs and browser histories keep).
async fn render(
    state: &AppState,
    staff: &Staff,
    done: Option<&str>,
    resident: Option<i64>,
    new_seed: Option<String>,
) -> PageResult {
    let now = state.clock.now();
    let summary = purchase::summary(&state.db, &state.programme, now).await?;
    let record = match lottery::public_record(&state.db, &state.programme).await {
        Ok(record) => Some(record),
        Err(SaleError::NotCommitted) => None,
        Err(e) => return Err(e.into()),
    };
    let results: Vec<ResultLine> = record
        .as_ref()
        .and_then(|r| r.results.as_ref())
        .map(|results| {
            let mut lines: Vec<ResultLine> = results
                .iter()
                .map(|r| ResultLine {
                    rank: r.rank,
                    pseudonym: r.pseudonym.clone(),
                    requested: r.requested,
                    won: r.won,
                })
                .collect();
            lines.sort_by_key(|l| l.rank);
            lines
        })
        .unwrap_or_default();
    let counter_orders = sqlx::query_as::<_, (i64, i64, i64, String)>(
        "SELECT id, resident_id, sets, payment_reference FROM sale_orders
         WHERE programme = $1 AND status = 'paid' AND payment_method = 'counter'
         ORDER BY id DESC LIMIT 50",
    )
    .bind(&state.programme.id)
    .fetch_all(state.db.reader())
    .await?
    .into_iter()
    .map(|(id, resident, sets, receipt)| {
        format!("注文{id}: 住民{resident} {sets}セット（受付番号 {receipt}）")
    })
    .collect();
    let (unpaid, unpaid_total) = unpaid_winners(state, resident, now).await?;
    let flash = match done {
        Some("committed") => Some(
            "シードを確定しました。下のシードを控えてください（この画面でしか表示されません）。",
        ),
        Some("drawn") => Some("抽選を行いました。"),
        Some("sold") => Some("窓口販売を記録しました。"),
        Some("paid") => Some("当選者のお支払いを記録し、商品券を発行しました。"),
        Some("paid-before") => Some(
            "この注文はこの受付番号でお支払い済みとして記録されています。新たな発行はしていません。",
        ),
        Some("expired") => Some("失効処理を行いました。"),
        _ => None,
    };
    let winners = results.iter().filter(|r| r.won > 0).count();
    let sets_won = results.iter().map(|r| r.won).sum();
    page(&SalePage {
        chrome: Chrome::new(staff, "プレミアム付商品券の販売", "sale").with_flash(flash),
        phase: phase_ja(summary.phase),
        price: yen(state.programme.set_price.get()),
        committed: record.is_some(),
        commitment: record
            .as_ref()
            .map(|r| r.commitment.clone())
            .unwrap_or_default(),
        drawn: record.as_ref().is_some_and(|r| r.seed.is_some()),
        seed: record
            .as_ref()
            .and_then(|r| r.seed.clone())
            .unwrap_or_default(),
        new_seed,
        can_commit: record.is_none() && now >= state.programme.application.end(),
        winners,
        sets_won,
        results,
        counter_orders,
        unpaid_truncated: usize::try_from(unpaid_total).unwrap_or(usize::MAX) > unpaid.len(),
        unpaid,
        unpaid_total,
        unpaid_resident: resident.map(|r| r.to_string()).unwrap_or_default(),
        summary,
    })
}

async fn commit(
    State(state): State<AppState>,
    Change { staff, .. }: Change<PlainForm>,
) -> PageResult {
    let seed = Seed::generate()?;
    let now = state.clock.now();
    let record = lottery::commit(
        &state.db,
        &state.programme,
        &seed.commitment(),
        &staff.actor(),
        now,
    )
    .await?;
    let action = staff
        .audit("sale.commit")
        .target(format!("sale:{}", state.programme.id))
        .detail(serde_json::json!({
            "commitment": record.commitment,
            "applications": record.applications.len(),
            "applications_hash": record.applications_hash,
        }));
    crate::audit::record_after(&state.db, action, now).await;
    render(
        &state,
        &staff,
        Some("committed"),
        None,
        Some(seed.as_str().to_string()),
    )
    .await
}

#[derive(Deserialize)]
pub struct DrawForm {
    csrf: String,
    seed: String,
}

impl CsrfField for DrawForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn draw(
    State(state): State<AppState>,
    Change { staff, form }: Change<DrawForm>,
) -> PageResult {
    let seed = Seed::parse(form.seed.trim())?;
    let now = state.clock.now();
    let record = lottery::draw(&state.db, &state.programme, &seed, &staff.actor(), now).await?;
    let results = record.results.as_deref().unwrap_or_default();
    let action = staff
        .audit("sale.draw")
        .target(format!("sale:{}", state.programme.id))
        .detail(serde_json::json!({
            "seed": record.seed,
            "winners": results.iter().filter(|r| r.won > 0).count(),
            "sets_won": results.iter().map(|r| r.won).sum::<i64>(),
        }));
    crate::audit::record_after(&state.db, action, now).await;
    Ok(see_other("/console/sale?done=drawn"))
}

#[derive(Deserialize)]
pub struct CounterForm {
    csrf: String,
    resident_id: String,
    sets: String,
    receipt_number: String,
}

impl CsrfField for CounterForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn counter(
    State(state): State<AppState>,
    Change { staff, form }: Change<CounterForm>,
) -> PageResult {
    let resident_id = form
        .resident_id
        .trim()
        .parse::<i64>()
        .map_err(|_| ApiError::invalid_field("resident_id", "住民番号を入力してください。"))?;
    let sets = form
        .sets
        .trim()
        .parse::<i64>()
        .map_err(|_| ApiError::invalid_field("sets", "セット数を入力してください。"))?;
    let sets = SetCount::parse(sets, &state.programme)?;
    let receipt_number = PaymentReference::parse(form.receipt_number.trim(), "receipt_number")?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let receipt = purchase::counter_purchase(
        &mut tx,
        &state.programme,
        resident_id,
        sets,
        &receipt_number,
        &staff.actor(),
        now,
    )
    .await?;
    let action = staff
        .audit("sale.counter_purchase")
        .target(format!("resident:{resident_id}"))
        .detail(serde_json::json!({
            "sets": sets.get(),
            "receipt_number": receipt_number.as_str(),
            "receipt": serde_json::to_value(&receipt).unwrap_or_default(),
        }));
    crate::audit::record_in(&mut tx, &action, now)
        .await
        .map_err(ApiError::internal)?;
    tx.commit().await?;
    Ok(see_other("/console/sale?done=sold"))
}

/// Winners' orders still open for payment (not yet paid, deadline not passed), oldest
/// first, and how many there are in all.
async fn unpaid_winners(
    state: &AppState,
    resident: Option<i64>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<UnpaidOrder>, i64), super::Failure> {
    // One query for both cases: `$3 IS NULL` would need a typed NULL on PostgreSQL.
    let (filter, resident) = match resident {
        Some(id) => (1_i64, id),
        None => (0, 0),
    };
    let condition = "programme = $1 AND channel = 'lottery' AND status = 'due' AND due_at > $2
                     AND ($3 = 0 OR resident_id = $4)";
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM sale_orders WHERE {condition}"
    )))
    .bind(&state.programme.id)
    .bind(crate::clock::to_millis(now))
    .bind(filter)
    .bind(resident)
    .fetch_one(state.db.reader())
    .await?;
    let rows = sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(sqlx::AssertSqlSafe(format!(
        "SELECT id, resident_id, sets, amount, due_at FROM sale_orders WHERE {condition}
         ORDER BY id LIMIT {UNPAID_SHOWN}"
    )))
    .bind(&state.programme.id)
    .bind(crate::clock::to_millis(now))
    .bind(filter)
    .bind(resident)
    .fetch_all(state.db.reader())
    .await?;
    let orders = rows
        .into_iter()
        .map(|(id, resident_id, sets, amount, due_at)| UnpaidOrder {
            id,
            resident_id,
            sets,
            amount: yen(amount),
            pay_by: jst(crate::clock::from_millis(due_at)),
        })
        .collect();
    Ok((orders, total))
}

#[derive(Deserialize)]
pub struct OrderPaymentForm {
    csrf: String,
    order_id: String,
    resident_id: String,
    receipt_number: String,
}

impl CsrfField for OrderPaymentForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A winner pays for their order at the counter: the same `pay_order` as the admin API's
/// counter payment. The resident id must match the order's, so a mistyped order id cannot
/// issue someone else's sets.
async fn order_payment(
    State(state): State<AppState>,
    Change { staff, form }: Change<OrderPaymentForm>,
) -> PageResult {
    let order_id = form
        .order_id
        .trim()
        .parse::<i64>()
        .map_err(|_| ApiError::invalid_field("order_id", "注文番号を入力してください。"))?;
    let resident_id = form
        .resident_id
        .trim()
        .parse::<i64>()
        .map_err(|_| ApiError::invalid_field("resident_id", "住民番号を入力してください。"))?;
    let payment = Payment {
        method: SalePaymentMethod::Counter,
        reference: PaymentReference::parse(form.receipt_number.trim(), "receipt_number")?,
        notified_amount: None,
    };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let paid = purchase::pay_order(
        &mut tx,
        &state.programme,
        order_id,
        &payment,
        &staff.actor(),
        now,
    )
    .await?;
    if paid.receipt.resident_id != resident_id {
        tx.rollback().await?;
        return Err(ApiError::invalid_field(
            "resident_id",
            "この注文はその住民番号の方のものではありません。注文番号と住民番号を確かめてください。",
        )
        .into());
    }
    if !paid.issued_now {
        // The same receipt recorded before: nothing was issued, nothing to audit.
        tx.rollback().await?;
        return Ok(see_other("/console/sale?done=paid-before"));
    }
    let action = staff
        .audit("sale.counter_payment")
        .target(format!("order:{order_id}"))
        .detail(serde_json::json!({
            "resident_id": resident_id,
            "receipt_number": payment.reference.as_str(),
            "receipt": serde_json::to_value(&paid.receipt).unwrap_or_default(),
        }));
    crate::audit::record_in(&mut tx, &action, now)
        .await
        .map_err(ApiError::internal)?;
    tx.commit().await?;
    tracing::info!(
        staff = staff.id,
        order_id,
        "counter payment from the console"
    );
    Ok(see_other("/console/sale?done=paid"))
}

async fn expire(
    State(state): State<AppState>,
    Change { staff, .. }: Change<PlainForm>,
) -> PageResult {
    let now = state.clock.now();
    let summary = expiry::expire(&state.db, &state.programme, &staff.actor(), now).await?;
    let action = staff
        .audit("sale.expire")
        .target(format!("issue:{}", summary.issue))
        .detail(serde_json::to_value(&summary).unwrap_or_default());
    crate::audit::record_after(&state.db, action, now).await;
    Ok(see_other("/console/sale?done=expired"))
}
