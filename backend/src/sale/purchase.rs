//! Orders and purchases: winners' orders (created by the draw) and additional-sale orders
//! (first come, first served), their payment at a counter or through the payment provider,
//! issuance of the paid sets through the ledger, and the lapse of orders not paid in time.
//!
//! Two conditional updates guard the sale and nothing else may: `sale_stock.taken + n <=
//! total` (never oversell) and `sale_buyers.taken + n <= limit` (never more than the limit
//! per resident, counting lottery and additional sets). Both are written in the transaction
//! that creates the order, so a refusal leaves nothing behind. This module must never issue
//! currency except through `ledger::issue_sets`, and never twice for one order.

use super::applications::{self, SetCount};
use super::{SaleError, SaleResult, lottery, phase};
use crate::clock::{from_millis, to_millis};
use crate::db::{Db, Tx, is_unique_violation, sum};
use crate::ledger;
use crate::programme::Programme;
use chiiki_core::Yen;
use chiiki_core::protocol::{
    AdditionalSaleInfo, DateWindow, DrawOutcome, MySale, OrderChannel, OrderStatus, SaleOrder,
    SalePaymentMethod, SalePurchaseReceipt, SaleSummary,
};
use chrono::{DateTime, Duration, Utc};
use sqlx::AssertSqlSafe;
use std::collections::BTreeMap;

fn channel_name(c: OrderChannel) -> &'static str {
    match c {
        OrderChannel::Lottery => "lottery",
        OrderChannel::Additional => "additional",
    }
}

fn parse_channel(s: &str) -> Option<OrderChannel> {
    match s {
        "lottery" => Some(OrderChannel::Lottery),
        "additional" => Some(OrderChannel::Additional),
        _ => None,
    }
}

fn method_name(m: SalePaymentMethod) -> &'static str {
    match m {
        SalePaymentMethod::Counter => "counter",
        SalePaymentMethod::Provider => "provider",
    }
}

fn parse_method(s: &str) -> Option<SalePaymentMethod> {
    match s {
        "counter" => Some(SalePaymentMethod::Counter),
        "provider" => Some(SalePaymentMethod::Provider),
        _ => None,
    }
}

/// A counter receipt number or the provider's payment id: 1-64 visible characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentReference(String);

impl PaymentReference {
    pub fn parse(raw: &str, field: &'static str) -> SaleResult<PaymentReference> {
        let r = raw.trim();
        if r.is_empty() || r.chars().count() > 64 || r.chars().any(char::is_control) {
            return Err(SaleError::Invalid {
                field,
                message: "受付番号（支払番号）を64文字以内で入力してください。",
            });
        }
        Ok(PaymentReference(r.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How an order is being paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub method: SalePaymentMethod,
    pub reference: PaymentReference,
    /// The provider says how much it took; a counter takes what the order says.
    pub notified_amount: Option<Yen>,
}

type OrderRow = (
    i64,
    i64,
    String,
    i64,
    i64,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    Option<i64>,
);

const ORDER_COLUMNS: &str = "id, resident_id, channel, sets, amount, status, due_at,
    payment_method, payment_reference, operation_id, created_at, settled_at";

struct OrderRecord {
    id: i64,
    resident_id: i64,
    channel: OrderChannel,
    sets: i64,
    amount: Yen,
    status: OrderStatus,
    due_at: DateTime<Utc>,
    method: Option<SalePaymentMethod>,
    reference: Option<String>,
    operation_id: Option<i64>,
    created_at: DateTime<Utc>,
    settled_at: Option<DateTime<Utc>>,
}

impl OrderRecord {
    fn from_row(row: OrderRow) -> SaleResult<OrderRecord> {
        let (id, resident_id, channel, sets, amount, status, due_at, method, reference, op, at, s) =
            row;
        let bad = |what: &str| SaleError::Db(sqlx::Error::Protocol(format!("order {id}: {what}")));
        Ok(OrderRecord {
            id,
            resident_id,
            channel: parse_channel(&channel).ok_or_else(|| bad(&channel))?,
            sets,
            amount: Yen(amount),
            status: match status.as_str() {
                "due" => OrderStatus::Due,
                "paid" => OrderStatus::Paid,
                "lapsed" => OrderStatus::Lapsed,
                other => return Err(bad(other)),
            },
            due_at: from_millis(due_at),
            method: method.as_deref().and_then(parse_method),
            reference,
            operation_id: op,
            created_at: from_millis(at),
            settled_at: s.map(from_millis),
        })
    }

    /// As the resident sees it: an unpaid order past its deadline has lapsed, whether or not
    /// the lapse has been written yet.
    fn view(&self, programme: &Programme, now: DateTime<Utc>) -> SaleOrder {
        let status = match self.status {
            OrderStatus::Due if self.due_at <= now => OrderStatus::Lapsed,
            other => other,
        };
        SaleOrder {
            order_id: self.id,
            channel: self.channel,
            sets: self.sets,
            amount: self.amount,
            value: programme
                .set_value
                .checked_mul(self.sets)
                .unwrap_or(Yen::ZERO),
            status,
            pay_by: self.due_at,
            payment_methods: vec![SalePaymentMethod::Counter, SalePaymentMethod::Provider],
            paid_at: (self.status == OrderStatus::Paid)
                .then_some(self.settled_at)
                .flatten(),
            created_at: self.created_at,
        }
    }

    fn receipt(&self, programme: &Programme) -> SaleResult<SalePurchaseReceipt> {
        let (Some(method), Some(reference), Some(purchase_id), Some(paid_at)) = (
            self.method,
            self.reference.clone(),
            self.operation_id,
            self.settled_at,
        ) else {
            return Err(SaleError::Db(sqlx::Error::Protocol(format!(
                "paid order {} has no payment record",
                self.id
            ))));
        };
        Ok(SalePurchaseReceipt {
            order_id: self.id,
            resident_id: self.resident_id,
            sets: self.sets,
            amount_paid: self.amount,
            value_issued: programme
                .set_value
                .checked_mul(self.sets)
                .unwrap_or(Yen::ZERO),
            method,
            reference,
            purchase_id,
            paid_at,
        })
    }
}

async fn order_by_id(tx: &mut Tx, programme: &Programme, id: i64) -> SaleResult<OrderRecord> {
    let row = sqlx::query_as::<_, OrderRow>(AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM sale_orders WHERE id = $1 AND programme = $2"
    )))
    .bind(id)
    .bind(&programme.id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(SaleError::UnknownOrder)?;
    OrderRecord::from_row(row)
}

// ---------------------------------------------------------------------------------------------
// The additional sale

/// The additional sale runs from the winners' deadline to the end of the sale window.
fn additional_window(programme: &Programme) -> (DateTime<Utc>, DateTime<Utc>) {
    (programme.winners_pay_by(), programme.sale.end())
}

fn additional_open(programme: &Programme, now: DateTime<Utc>) -> SaleResult<()> {
    let (opens_at, closes_at) = additional_window(programme);
    if opens_at <= now && now < closes_at {
        Ok(())
    } else {
        Err(SaleError::AdditionalSaleNotOpen {
            opens_at,
            closes_at,
        })
    }
}

async fn stock<'e, E>(exec: E, programme: &Programme) -> SaleResult<Option<(i64, i64)>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(
        sqlx::query_as::<_, (i64, i64)>("SELECT total, taken FROM sale_stock WHERE programme = $1")
            .bind(&programme.id)
            .fetch_optional(exec)
            .await?,
    )
}

async fn held<'e, E>(exec: E, programme: &Programme, resident_id: i64) -> SaleResult<i64>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT taken FROM sale_buyers WHERE programme = $1 AND resident_id = $2",
    )
    .bind(&programme.id)
    .bind(resident_id)
    .fetch_optional(exec)
    .await?
    .unwrap_or(0))
}

/// A cheap look, outside any transaction, that answers most refusals of a burst (sold out,
/// limit reached, not open) without touching the writer. The transaction decides anyway.
pub async fn precheck_order(
    db: &Db,
    programme: &Programme,
    resident_id: i64,
    sets: SetCount,
    now: DateTime<Utc>,
) -> SaleResult<()> {
    additional_open(programme, now)?;
    let Some((total, taken)) = stock(db.reader(), programme).await? else {
        return Err(SaleError::NotDrawn);
    };
    if taken + sets.get() > total {
        return Err(SaleError::SoldOut {
            remaining: total - taken,
        });
    }
    let held = held(db.reader(), programme, resident_id).await?;
    if held + sets.get() > programme.limit_per_resident {
        return Err(SaleError::LimitReached {
            limit: programme.limit_per_resident,
            held,
        });
    }
    Ok(())
}

/// Takes `sets` in the additional sale for a resident, inside `tx`: the per-resident limit
/// first, then the stock. The order is due within the programme's order minutes (never after
/// the sale window).
pub async fn take_order(
    tx: &mut Tx,
    programme: &Programme,
    resident_id: i64,
    sets: SetCount,
    now: DateTime<Utc>,
) -> SaleResult<SaleOrder> {
    additional_open(programme, now)?;
    let n = sets.get();
    let inserted = sqlx::query(
        "INSERT INTO sale_buyers (programme, resident_id, taken) VALUES ($1, $2, 0)
         ON CONFLICT (programme, resident_id) DO NOTHING",
    )
    .bind(&programme.id)
    .bind(resident_id)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            return Err(SaleError::UnknownResident);
        }
        Err(e) => return Err(e.into()),
    }
    let limited = sqlx::query(
        "UPDATE sale_buyers SET taken = taken + $1
         WHERE programme = $2 AND resident_id = $3 AND taken + $1 <= $4",
    )
    .bind(n)
    .bind(&programme.id)
    .bind(resident_id)
    .bind(programme.limit_per_resident)
    .execute(&mut **tx)
    .await?;
    if limited.rows_affected() != 1 {
        return Err(SaleError::LimitReached {
            limit: programme.limit_per_resident,
            held: held(&mut **tx, programme, resident_id).await?,
        });
    }
    let amount = programme
        .set_price
        .checked_mul(n)
        .ok_or(ledger::LedgerError::AmountNotPositive)?;
    let hold = Duration::minutes(i64::from(programme.sale_rules.additional_order_minutes));
    let due_at = (now + hold).min(programme.sale.end());
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO sale_orders (programme, resident_id, channel, sets, amount, status, due_at,
                                  created_at)
         VALUES ($1, $2, 'additional', $3, $4, 'due', $5, $6) RETURNING id",
    )
    .bind(&programme.id)
    .bind(resident_id)
    .bind(n)
    .bind(amount.get())
    .bind(to_millis(due_at))
    .bind(to_millis(now))
    .fetch_one(&mut **tx)
    .await?;
    // The stock last: its row is the one every buyer shares, so it is held for the shortest
    // time before commit.
    let taken = sqlx::query(
        "UPDATE sale_stock SET taken = taken + $1 WHERE programme = $2 AND taken + $1 <= total",
    )
    .bind(n)
    .bind(&programme.id)
    .execute(&mut **tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Err(match stock(&mut **tx, programme).await? {
            None => SaleError::NotDrawn,
            Some((total, taken)) => SaleError::SoldOut {
                remaining: total - taken,
            },
        });
    }
    Ok(SaleOrder {
        order_id: id,
        channel: OrderChannel::Additional,
        sets: n,
        amount,
        value: programme.set_value.checked_mul(n).unwrap_or(Yen::ZERO),
        status: OrderStatus::Due,
        pay_by: due_at,
        payment_methods: vec![SalePaymentMethod::Counter, SalePaymentMethod::Provider],
        paid_at: None,
        created_at: now,
    })
}

/// The whole of an additional-sale order outside HTTP: lapse what is overdue, look, take.
pub async fn place_order(
    db: &Db,
    programme: &Programme,
    resident_id: i64,
    sets: SetCount,
    now: DateTime<Utc>,
) -> SaleResult<SaleOrder> {
    lapse_overdue(db, programme, now).await?;
    precheck_order(db, programme, resident_id, sets, now).await?;
    let mut tx = db.begin().await?;
    let order = take_order(&mut tx, programme, resident_id, sets, now).await?;
    tx.commit().await?;
    Ok(order)
}

/// Releases the sets of orders not paid by their deadline (winners' and additional-sale
/// orders alike) back to the stock and the residents' limits. Idempotent; returns the sets
/// released. Runs in its own transaction: call it before, never inside, another one.
pub async fn lapse_overdue(db: &Db, programme: &Programme, now: DateTime<Utc>) -> SaleResult<i64> {
    let any = sqlx::query_scalar::<_, i64>(
        "SELECT id FROM sale_orders WHERE programme = $1 AND status = 'due' AND due_at <= $2
         LIMIT 1",
    )
    .bind(&programme.id)
    .bind(to_millis(now))
    .fetch_optional(db.reader())
    .await?;
    if any.is_none() {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    // Concurrent lapses cannot count an order twice: the status condition is re-checked on
    // each row once the other transaction has committed.
    let lapsed = sqlx::query_as::<_, (i64, i64)>(
        "UPDATE sale_orders SET status = 'lapsed', settled_at = $1
         WHERE programme = $2 AND status = 'due' AND due_at <= $1
         RETURNING resident_id, sets",
    )
    .bind(to_millis(now))
    .bind(&programme.id)
    .fetch_all(&mut *tx)
    .await?;
    let mut per_resident: BTreeMap<i64, i64> = BTreeMap::new();
    for (resident_id, sets) in &lapsed {
        *per_resident.entry(*resident_id).or_insert(0) += sets;
    }
    // Ascending resident order, so concurrent writers take these row locks in one order.
    for (resident_id, sets) in &per_resident {
        sqlx::query(
            "UPDATE sale_buyers SET taken = taken - $1 WHERE programme = $2 AND resident_id = $3",
        )
        .bind(sets)
        .bind(&programme.id)
        .bind(resident_id)
        .execute(&mut *tx)
        .await?;
    }
    let released: i64 = per_resident.values().sum();
    if released > 0 {
        sqlx::query("UPDATE sale_stock SET taken = taken - $1 WHERE programme = $2")
            .bind(released)
            .bind(&programme.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if released > 0 {
        tracing::info!(programme = %programme.id, orders = lapsed.len(), sets = released, "unpaid orders lapsed");
    }
    Ok(released)
}

// ---------------------------------------------------------------------------------------------
// Payment and issuance

/// A paid order, and whether this call paid it (false: it had been paid by the very same
/// payment before, so nothing more was issued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub receipt: SalePurchaseReceipt,
    pub issued_now: bool,
}

/// Pays an order inside `tx` and issues its sets: the price from the fund account and the
/// premium from the issue's premium issuer account into the resident's premium purse. The
/// same payment reported again issues nothing more.
pub async fn pay_order(
    tx: &mut Tx,
    programme: &Programme,
    order_id: i64,
    payment: &Payment,
    actor: &str,
    now: DateTime<Utc>,
) -> SaleResult<Paid> {
    let order = order_by_id(tx, programme, order_id).await?;
    let method = method_name(payment.method);
    let used_by = sqlx::query_scalar::<_, i64>(
        "SELECT id FROM sale_orders WHERE payment_method = $1 AND payment_reference = $2",
    )
    .bind(method)
    .bind(payment.reference.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    match used_by {
        Some(id) if id == order.id => {
            return Ok(Paid {
                receipt: order.receipt(programme)?,
                issued_now: false,
            });
        }
        Some(_) => return Err(SaleError::ReferenceUsed),
        None => {}
    }
    if let Some(notified) = payment.notified_amount
        && notified != order.amount
    {
        return Err(SaleError::AmountMismatch {
            expected: order.amount,
            notified,
        });
    }
    if !programme.sale.contains(now) {
        return Err(SaleError::SaleClosed {
            window: programme.sale,
        });
    }
    match order.status {
        OrderStatus::Paid => return Err(SaleError::OrderAlreadyPaid),
        OrderStatus::Lapsed => {
            return Err(SaleError::OrderLapsed {
                pay_by: order.due_at,
            });
        }
        OrderStatus::Due if order.due_at <= now => {
            return Err(SaleError::OrderLapsed {
                pay_by: order.due_at,
            });
        }
        OrderStatus::Due => {}
    }
    let claimed = sqlx::query(
        "UPDATE sale_orders SET status = 'paid', payment_method = $1, payment_reference = $2,
                                settled_at = $3
         WHERE id = $4 AND status = 'due' AND due_at > $3",
    )
    .bind(method)
    .bind(payment.reference.as_str())
    .bind(to_millis(now))
    .bind(order.id)
    .execute(&mut **tx)
    .await;
    let claimed = match claimed {
        Ok(done) => done.rows_affected(),
        Err(e) if is_unique_violation(&e) => return Err(SaleError::ReferenceUsed),
        Err(e) => return Err(e.into()),
    };
    if claimed != 1 {
        // Another payment won the race (or the lapse did): say which.
        let now_state = order_by_id(tx, programme, order.id).await?;
        return Err(match now_state.status {
            OrderStatus::Paid => SaleError::OrderAlreadyPaid,
            _ => SaleError::OrderLapsed {
                pay_by: order.due_at,
            },
        });
    }
    let detail = serde_json::json!({
        "order_id": order.id,
        "channel": channel_name(order.channel),
        "method": method,
        "reference": payment.reference.as_str(),
    });
    let operation = ledger::issue_sets(
        tx,
        programme,
        order.resident_id,
        order.sets,
        actor,
        detail,
        now,
    )
    .await?;
    sqlx::query("UPDATE sale_orders SET operation_id = $1 WHERE id = $2")
        .bind(operation)
        .bind(order.id)
        .execute(&mut **tx)
        .await?;
    let paid = order_by_id(tx, programme, order.id).await?;
    Ok(Paid {
        receipt: paid.receipt(programme)?,
        issued_now: true,
    })
}

/// A sale at a counter in the additional sale: the order is taken and paid at once.
pub async fn counter_purchase(
    tx: &mut Tx,
    programme: &Programme,
    resident_id: i64,
    sets: SetCount,
    receipt_number: &PaymentReference,
    actor: &str,
    now: DateTime<Utc>,
) -> SaleResult<SalePurchaseReceipt> {
    let order = take_order(tx, programme, resident_id, sets, now).await?;
    let payment = Payment {
        method: SalePaymentMethod::Counter,
        reference: receipt_number.clone(),
        notified_amount: None,
    };
    let paid = pay_order(tx, programme, order.order_id, &payment, actor, now).await?;
    Ok(paid.receipt)
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Everything a resident needs to know about the sale.
pub async fn my_sale(
    db: &Db,
    programme: &Programme,
    resident_id: i64,
    now: DateTime<Utc>,
) -> SaleResult<MySale> {
    let drawn = lottery::is_drawn(db, programme).await?;
    let application = applications::current(db, programme, resident_id).await?;
    let result = if drawn {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT requested, won FROM sale_entries WHERE programme = $1 AND resident_id = $2",
        )
        .bind(&programme.id)
        .bind(resident_id)
        .fetch_optional(db.reader())
        .await?
        .map(|(requested, won)| DrawOutcome { requested, won })
    } else {
        None
    };
    let rows = sqlx::query_as::<_, OrderRow>(AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM sale_orders WHERE programme = $1 AND resident_id = $2
         ORDER BY id DESC"
    )))
    .bind(&programme.id)
    .bind(resident_id)
    .fetch_all(db.reader())
    .await?;
    let orders = rows
        .into_iter()
        .map(|row| OrderRecord::from_row(row).map(|o| o.view(programme, now)))
        .collect::<SaleResult<Vec<_>>>()?;
    let sets_held = orders
        .iter()
        .filter(|o| matches!(o.status, OrderStatus::Due | OrderStatus::Paid))
        .map(|o| o.sets)
        .sum();
    let (opens_at, closes_at) = additional_window(programme);
    let remaining = stock(db.reader(), programme)
        .await?
        .map(|(total, taken)| total - taken);
    let window = |w: &crate::programme::Window| DateWindow {
        first_day: w.first_day,
        last_day: w.last_day,
    };
    Ok(MySale {
        programme: programme.id.clone(),
        phase: phase(programme, drawn, now),
        application_window: window(&programme.application),
        sale_window: window(&programme.sale),
        set_price: programme.set_price,
        set_value: programme.set_value,
        limit_per_resident: programme.limit_per_resident,
        winners_pay_by: programme.winners_pay_by(),
        application,
        result,
        orders,
        sets_held,
        additional_sale: AdditionalSaleInfo {
            opens_at,
            closes_at,
            remaining,
        },
    })
}

/// Sale figures for staff.
pub async fn summary(
    db: &Db,
    programme: &Programme,
    now: DateTime<Utc>,
) -> SaleResult<SaleSummary> {
    let drawn = lottery::is_drawn(db, programme).await?;
    let (applications, requested) = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(format!(
        "SELECT COUNT(*), {} FROM sale_applications WHERE programme = $1 AND withdrawn = 0",
        sum("sets")
    )))
    .bind(&programme.id)
    .fetch_one(db.reader())
    .await?;
    let by_status = sqlx::query_as::<_, (String, i64)>(AssertSqlSafe(format!(
        "SELECT status, {} FROM sale_orders WHERE programme = $1 GROUP BY status",
        sum("sets")
    )))
    .bind(&programme.id)
    .fetch_all(db.reader())
    .await?;
    let of = |s: &str| {
        by_status
            .iter()
            .find(|(status, _)| status == s)
            .map_or(0, |(_, n)| *n)
    };
    Ok(SaleSummary {
        programme: programme.id.clone(),
        phase: phase(programme, drawn, now),
        sets_on_sale: programme.sets_on_sale,
        applications,
        sets_requested: requested,
        sets_sold: of("paid"),
        sets_due: of("due"),
        sets_remaining: stock(db.reader(), programme)
            .await?
            .map(|(total, taken)| total - taken),
    })
}

/// The sale's own invariants (the ledger has its own): the stock and every resident's count
/// equal their due and paid orders, nobody holds more than the limit, nothing is oversold,
/// and every paid order issued exactly its sets once. Returns every violation found.
pub async fn check_invariants(db: &Db, programme: &Programme) -> SaleResult<Vec<String>> {
    let mut problems = Vec::new();
    let pool = db.reader();
    if let Some((total, taken)) = stock(pool, programme).await? {
        let held = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
            "SELECT {} FROM sale_orders WHERE programme = $1 AND status IN ('due', 'paid')",
            sum("sets")
        )))
        .bind(&programme.id)
        .fetch_one(pool)
        .await?;
        if held != taken {
            problems.push(format!("stock says {taken} taken, orders hold {held}"));
        }
        if taken > total || taken < 0 {
            problems.push(format!("stock of {total} has {taken} taken"));
        }
    }
    let buyers = sqlx::query_as::<_, (i64, i64, i64)>(AssertSqlSafe(format!(
        "SELECT b.resident_id, b.taken,
                (SELECT {} FROM sale_orders o WHERE o.programme = b.programme
                   AND o.resident_id = b.resident_id AND o.status IN ('due', 'paid'))
         FROM sale_buyers b WHERE b.programme = $1",
        sum("o.sets")
    )))
    .bind(&programme.id)
    .fetch_all(pool)
    .await?;
    for (resident_id, taken, held) in buyers {
        if taken != held {
            problems.push(format!(
                "resident {resident_id} counts {taken} sets but holds {held}"
            ));
        }
        if held > programme.limit_per_resident {
            problems.push(format!(
                "resident {resident_id} holds {held} sets, over the limit"
            ));
        }
    }
    let paid = sqlx::query_as::<_, (i64, i64, i64, Option<i64>, Option<i64>, Option<i64>)>(
        "SELECT o.id, o.resident_id, o.sets, o.operation_id, p.amount, p.resident_id
         FROM sale_orders o LEFT JOIN operations p ON p.id = o.operation_id AND p.kind = 'purchase'
         WHERE o.programme = $1 AND o.status = 'paid'",
    )
    .bind(&programme.id)
    .fetch_all(pool)
    .await?;
    let mut operations = std::collections::BTreeSet::new();
    for (id, resident_id, sets, operation, amount, op_resident) in paid {
        let value = programme.set_value.checked_mul(sets).unwrap_or(Yen::ZERO);
        match (operation, amount, op_resident) {
            (Some(op), Some(amount), Some(r)) if amount == value.get() && r == resident_id => {
                if !operations.insert(op) {
                    problems.push(format!("purchase {op} pays for two orders"));
                }
            }
            _ => problems.push(format!(
                "paid order {id} did not issue {value} to resident {resident_id}"
            )),
        }
    }
    let unpaid_issued = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM sale_orders WHERE programme = $1 AND status <> 'paid'
         AND operation_id IS NOT NULL",
    )
    .bind(&programme.id)
    .fetch_one(pool)
    .await?;
    if unpaid_issued != 0 {
        problems.push(format!("{unpaid_issued} unpaid orders issued currency"));
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_short_visible_text() {
        assert_eq!(
            PaymentReference::parse("  R-0001 ", "receipt_number")
                .unwrap()
                .as_str(),
            "R-0001"
        );
        assert!(PaymentReference::parse("", "receipt_number").is_err());
        assert!(PaymentReference::parse(&"x".repeat(65), "receipt_number").is_err());
        assert!(PaymentReference::parse("a\nb", "receipt_number").is_err());
    }

    #[test]
    fn the_additional_sale_opens_when_winners_can_no_longer_pay() {
        let p = Programme::midori_2024().unwrap();
        let (opens, closes) = additional_window(&p);
        assert_eq!(opens, p.winners_pay_by());
        assert_eq!(closes, p.sale.end());
        assert!(additional_open(&p, opens - Duration::milliseconds(1)).is_err());
        assert!(additional_open(&p, opens).is_ok());
        assert!(additional_open(&p, closes - Duration::milliseconds(1)).is_ok());
        assert!(matches!(
            additional_open(&p, closes),
            Err(SaleError::AdditionalSaleNotOpen { .. })
        ));
    }
}
