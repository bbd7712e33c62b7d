//! Settlement with stores: closing a cycle (what each store is owed for a period), the Zengin
//! transfer file that pays them from the fund account, statements, and payouts marked paid
//! (the ledger moves the money to the settled account) or returned by the bank (moved back
//! and carried into the next cycle).
//!
//! A cycle covers the payments and refunds made in its period (by their time, JST), so a
//! refund after a cutoff reduces the next cycle. A store's amount due is its net plus what
//! earlier cycles carried (returned payouts, negative nets, payouts held for want of a bank
//! account); only positive amounts to valid accounts are transferred, everything else carries.
//! The city bears the fee: it is reported per store, and stores receive their full amount.
//!
//! Closing is idempotent: the transfer file is stored when a period is first closed and the
//! same bytes are returned ever after. Periods close in order, each only after its cutoff.

pub mod calendar;
pub mod period;
pub mod rules;
pub mod statement;

pub use period::Period;
pub use rules::{CycleKind, SettlementRules};

use crate::clock::{from_millis, to_millis};
use crate::db::{Db, Tx, is_unique_violation, sum};
use crate::ledger::{self, LedgerError};
use crate::programme::Programme;
use crate::stores::application::bank_view;
use crate::stores::{ACCOUNT_HOLDER, ACCOUNT_NUMBER, stored_bank_account};
use crate::vault::Vault;
use crate::zengin::BankAccount;
use crate::zengin::transfer::{Payee, TransferFileError, transfer_file};
use chiiki_core::Yen;
use chiiki_core::protocol::{
    BankAccountView, PayoutReceipt, PayoutStatus, Settlement, SettlementLine, SettlementSummary,
    StoreStatement,
};
use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use sqlx::AssertSqlSafe;
use std::collections::BTreeMap;

/// Closing waits this long after a cutoff, so that payments in flight at midnight have
/// committed before the period is read.
pub const CLOSING_GRACE_MINUTES: i64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum SettlementError {
    #[error("{0}")]
    InvalidPeriod(String),
    #[error("period {period} can be closed from {closes_from}")]
    NotOver {
        period: String,
        closes_from: DateTime<Utc>,
    },
    #[error("close period {missing} first")]
    OutOfOrder { missing: String },
    #[error("period {0} is not closed")]
    NotClosed(String),
    #[error("store {store_id} has no payout in period {period}")]
    UnknownPayout { period: String, store_id: i64 },
    #[error("the payout is {status:?}")]
    PayoutConflict { status: PayoutStatus },
    #[error("no payout of the period is waiting to be marked paid")]
    NothingScheduled,
    #[error(transparent)]
    Calendar(#[from] calendar::OutOfRange),
    #[error(transparent)]
    TransferFile(#[from] TransferFileError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub type SettlementResult<T> = Result<T, SettlementError>;

/// Vault field name of a cycle's sealed transfer file.
const TRANSFER_FILE: &str = "settlement.transfer_file";

/// A closed cycle: what staff see, and the transfer file (none when nobody is to be paid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub period: Period,
    pub settlement: Settlement,
    pub transfer_file: Option<Vec<u8>>,
    /// Each line's bank account as it was at closing, by store id.
    pub accounts: BTreeMap<i64, BankAccountView>,
}

impl Closed {
    /// The name the transfer file is saved under.
    pub fn transfer_file_name(&self, programme: &Programme) -> String {
        format!("zengin-{}-{}.txt", programme.id, self.period)
    }
}

pub fn parse_period(programme: &Programme, text: &str) -> SettlementResult<Period> {
    Period::parse(text, programme.settlement.cycle).ok_or_else(|| {
        SettlementError::InvalidPeriod(match programme.settlement.cycle {
            CycleKind::Monthly => format!("{text:?} is not a period like 2024-11"),
            CycleKind::SemiMonthly => {
                format!("{text:?} is not a period like 2024-11-1 or 2024-11-2")
            }
        })
    })
}

/// The day stores are paid for `period`: its last day plus the programme's days, moved to the
/// next bank business day.
pub fn payout_date(rules: &SettlementRules, period: Period) -> SettlementResult<NaiveDate> {
    let day = period
        .last_day()
        .checked_add_days(Days::new(u64::from(rules.payout_after_days)))
        .unwrap_or(NaiveDate::MAX);
    Ok(calendar::on_or_after_business_day(day)?)
}

fn status_name(status: PayoutStatus) -> &'static str {
    match status {
        PayoutStatus::Scheduled => "scheduled",
        PayoutStatus::Paid => "paid",
        PayoutStatus::Returned => "returned",
        PayoutStatus::Carried => "carried",
    }
}

fn parse_status(s: &str) -> PayoutStatus {
    match s {
        "scheduled" => PayoutStatus::Scheduled,
        "paid" => PayoutStatus::Paid,
        "returned" => PayoutStatus::Returned,
        _ => PayoutStatus::Carried,
    }
}

const NO_BANK_ACCOUNT: &str = "no_bank_account";
const NOTHING_DUE: &str = "nothing_due";

fn hold_reason_text(code: &str) -> String {
    match code {
        NO_BANK_ACCOUNT => "振込先の口座が登録されていないため、次回に繰り越します。".into(),
        NOTHING_DUE => "お支払いする額がないため、次回に繰り越します。".into(),
        other => other.into(),
    }
}

/// One store's line while a cycle is being closed.
#[derive(Debug, Default)]
struct Draft {
    payment_count: i64,
    gross: i64,
    refund_count: i64,
    refunds: i64,
    premium: i64,
    charged: i64,
    points: i64,
    carried_in: i64,
    carried_lines: Vec<i64>,
}

/// Closes `period` (or returns it as it was closed).
pub async fn close(
    db: &Db,
    programme: &Programme,
    period: Period,
    actor: &str,
    now: DateTime<Utc>,
) -> SettlementResult<Closed> {
    if let Some(closed) = load(db, programme, period).await? {
        return Ok(closed);
    }
    let closes_from = period.ends_at() + Duration::minutes(CLOSING_GRACE_MINUTES);
    if now < closes_from {
        return Err(SettlementError::NotOver {
            period: period.to_string(),
            closes_from,
        });
    }
    let first = Period::containing(programme.usage.first_day, programme.settlement.cycle);
    if period < first {
        return Err(SettlementError::InvalidPeriod(format!(
            "{period} is before the programme's first period {first}"
        )));
    }
    if period > first && load(db, programme, period.previous()).await?.is_none() {
        return Err(SettlementError::OutOfOrder {
            missing: period.previous().to_string(),
        });
    }
    let payout_day = payout_date(&programme.settlement, period)?;
    let mut tx = db.begin().await?;
    match write_cycle(
        &mut tx,
        db.vault(),
        programme,
        period,
        payout_day,
        actor,
        now,
    )
    .await
    {
        Ok(()) => tx.commit().await?,
        Err(SettlementError::Db(e)) if is_unique_violation(&e) => {
            // Closed meanwhile by someone else: theirs is the cycle.
            tx.rollback().await?;
        }
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    }
    load(db, programme, period)
        .await?
        .ok_or_else(|| SettlementError::NotClosed(period.to_string()))
}

async fn write_cycle(
    tx: &mut Tx,
    vault: &Vault,
    programme: &Programme,
    period: Period,
    payout_day: NaiveDate,
    actor: &str,
    now: DateTime<Utc>,
) -> SettlementResult<()> {
    let (from, to) = (to_millis(period.starts_at()), to_millis(period.ends_at()));
    let mut drafts: BTreeMap<i64, Draft> = BTreeMap::new();
    for (kind, store_id, count, total) in
        sqlx::query_as::<_, (String, i64, i64, i64)>(AssertSqlSafe(format!(
            "SELECT kind, store_id, COUNT(*), {} FROM operations
             WHERE kind IN ('payment', 'refund') AND created_at >= $1 AND created_at < $2
             GROUP BY kind, store_id",
            sum("amount")
        )))
        .bind(from)
        .bind(to)
        .fetch_all(&mut **tx)
        .await?
    {
        let draft = drafts.entry(store_id).or_default();
        if kind == "payment" {
            (draft.payment_count, draft.gross) = (count, total);
        } else {
            (draft.refund_count, draft.refunds) = (count, total);
        }
    }
    // Where the money came from: the purse kind each payment leg drew on, less what refund
    // legs returned to purses of that kind.
    for (op_kind, store_id, purse, total) in
        sqlx::query_as::<_, (String, i64, String, i64)>(AssertSqlSafe(format!(
            "SELECT o.kind, o.store_id, a.kind, {} FROM operations o
             JOIN transfers t ON t.operation_id = o.id
             JOIN accounts a ON a.id = CASE WHEN o.kind = 'payment'
                                            THEN t.debit_account ELSE t.credit_account END
             WHERE o.kind IN ('payment', 'refund') AND o.created_at >= $1 AND o.created_at < $2
             GROUP BY o.kind, o.store_id, a.kind",
            sum("t.amount")
        )))
        .bind(from)
        .bind(to)
        .fetch_all(&mut **tx)
        .await?
    {
        let draft = drafts.entry(store_id).or_default();
        let signed = if op_kind == "payment" { total } else { -total };
        match purse.as_str() {
            "resident_premium" => draft.premium += signed,
            "resident_charged" => draft.charged += signed,
            "resident_points" => draft.points += signed,
            other => {
                return Err(LedgerError::Inconsistent(format!(
                    "a {op_kind} of store {store_id} touches a {other} account"
                ))
                .into());
            }
        }
    }
    for (line_id, store_id, amount_due) in sqlx::query_as::<_, (i64, i64, i64)>(
        "SELECT l.id, l.store_id, l.amount_due FROM settlement_lines l
         JOIN settlement_cycles c ON c.id = l.cycle_id
         WHERE c.programme_id = $1 AND l.status IN ('carried', 'returned')
           AND l.carried_into IS NULL",
    )
    .bind(&programme.id)
    .fetch_all(&mut **tx)
    .await?
    {
        let draft = drafts.entry(store_id).or_default();
        draft.carried_in += amount_due;
        draft.carried_lines.push(line_id);
    }

    struct Line {
        store_id: i64,
        draft: Draft,
        amount_due: i64,
        fee: i64,
        status: PayoutStatus,
        hold: Option<&'static str>,
        account: Option<BankAccount>,
    }
    let mut lines = Vec::with_capacity(drafts.len());
    for (store_id, draft) in drafts {
        let stored = sqlx::query_as::<_, crate::stores::StoredAccount>(
            "SELECT bank_code, branch_code, account_type, account_number, account_holder
             FROM stores WHERE id = $1",
        )
        .bind(store_id)
        .fetch_optional(&mut **tx)
        .await?;
        let account = stored.and_then(|s| stored_bank_account(vault, s));
        let net = draft.gross - draft.refunds;
        let amount_due = net + draft.carried_in;
        let fee = net.max(0) * programme.settlement.fee_basis_points / 10_000;
        let (status, hold) = if amount_due <= 0 {
            (PayoutStatus::Carried, Some(NOTHING_DUE))
        } else if account.is_none() {
            (PayoutStatus::Carried, Some(NO_BANK_ACCOUNT))
        } else {
            (PayoutStatus::Scheduled, None)
        };
        lines.push(Line {
            store_id,
            draft,
            amount_due,
            fee,
            status,
            hold,
            account,
        });
    }
    let payees: Vec<Payee> = lines
        .iter()
        .filter(|l| l.status == PayoutStatus::Scheduled)
        .filter_map(|l| {
            Some(Payee {
                account: l.account.clone()?,
                amount: Yen(l.amount_due),
                customer_code_1: u64::try_from(l.store_id).ok()?,
                customer_code_2: period.number(),
            })
        })
        .collect();
    let file = if payees.is_empty() {
        None
    } else {
        Some(transfer_file(
            &programme.settlement.remitter,
            payout_day,
            &payees,
        )?)
    };
    let transfer_total: i64 = payees.iter().map(|p| p.amount.get()).sum();
    let cycle_id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO settlement_cycles
             (programme_id, period, starts_at, ends_at, first_day, last_day, payout_date,
              fee_basis_points, transfer_count, transfer_total, transfer_file, closed_at, closed_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(&programme.id)
    .bind(period.to_string())
    .bind(from)
    .bind(to)
    .bind(period.first_day().to_string())
    .bind(period.last_day().to_string())
    .bind(payout_day.to_string())
    .bind(programme.settlement.fee_basis_points)
    .bind(i64::try_from(payees.len()).unwrap_or(i64::MAX))
    .bind(transfer_total)
    // The file names every payee's account: it is sealed like the accounts themselves.
    .bind(
        file.map(|f| vault.seal_bytes(TRANSFER_FILE, &f))
            .transpose()?
            .map(String::into_bytes),
    )
    .bind(to_millis(now))
    .bind(actor)
    .fetch_one(&mut **tx)
    .await?;
    for line in lines {
        let d = &line.draft;
        let account = line.account.as_ref();
        sqlx::query(
            "INSERT INTO settlement_lines
                 (cycle_id, store_id, payment_count, gross, refund_count, refunds, net, premium,
                  charged, points, carried_in, amount_due, fee, status, hold_reason, bank_code,
                  branch_code, account_type, account_number, account_holder)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18, $19, $20)",
        )
        .bind(cycle_id)
        .bind(line.store_id)
        .bind(d.payment_count)
        .bind(d.gross)
        .bind(d.refund_count)
        .bind(d.refunds)
        .bind(d.gross - d.refunds)
        .bind(d.premium)
        .bind(d.charged)
        .bind(d.points)
        .bind(d.carried_in)
        .bind(line.amount_due)
        .bind(line.fee)
        .bind(status_name(line.status))
        .bind(line.hold)
        .bind(account.map(|a| a.bank.as_str().to_string()))
        .bind(account.map(|a| a.branch.as_str().to_string()))
        .bind(account.map(|a| a.kind.as_str()))
        .bind(vault.seal_opt(ACCOUNT_NUMBER, account.map(|a| a.number.as_str()))?)
        .bind(vault.seal_opt(ACCOUNT_HOLDER, account.map(|a| a.holder.as_str()))?)
        .execute(&mut **tx)
        .await?;
        for carried in &d.carried_lines {
            let taken = sqlx::query(
                "UPDATE settlement_lines SET carried_into = $1
                 WHERE id = $2 AND carried_into IS NULL",
            )
            .bind(cycle_id)
            .bind(carried)
            .execute(&mut **tx)
            .await?;
            if taken.rows_affected() != 1 {
                return Err(LedgerError::Inconsistent(format!(
                    "line {carried} was carried into two cycles"
                ))
                .into());
            }
        }
    }
    tracing::info!(programme = %programme.id, %period, transfers = payees.len(), transfer_total, "settlement cycle closed");
    Ok(())
}

#[derive(sqlx::FromRow)]
struct CycleRow {
    id: i64,
    period: String,
    first_day: String,
    last_day: String,
    payout_date: String,
    transfer_count: i64,
    transfer_total: i64,
    transfer_file: Option<Vec<u8>>,
    closed_at: i64,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    store_id: i64,
    store_name: String,
    payment_count: i64,
    gross: i64,
    refund_count: i64,
    refunds: i64,
    net: i64,
    premium: i64,
    charged: i64,
    points: i64,
    carried_in: i64,
    amount_due: i64,
    fee: i64,
    status: String,
    hold_reason: Option<String>,
    paid_at: Option<i64>,
    returned_at: Option<i64>,
    return_reason: Option<String>,
    bank_code: Option<String>,
    branch_code: Option<String>,
    account_type: Option<String>,
    account_number: Option<String>,
    account_holder: Option<String>,
}

const LINE_COLUMNS: &str = "l.store_id, s.name AS store_name, l.payment_count, l.gross, \
     l.refund_count, l.refunds, l.net, l.premium, l.charged, l.points, l.carried_in, \
     l.amount_due, l.fee, l.status, l.hold_reason, l.paid_at, l.returned_at, l.return_reason, \
     l.bank_code, l.branch_code, l.account_type, l.account_number, l.account_holder";

fn parse_day(s: &str) -> NaiveDate {
    s.parse().unwrap_or(NaiveDate::MIN)
}

fn summary(cycle: &CycleRow, lines: &[SettlementLine]) -> SettlementSummary {
    SettlementSummary {
        period: cycle.period.clone(),
        first_day: parse_day(&cycle.first_day),
        last_day: parse_day(&cycle.last_day),
        payout_date: parse_day(&cycle.payout_date),
        closed_at: from_millis(cycle.closed_at),
        transfer_count: cycle.transfer_count,
        transfer_total: Yen(cycle.transfer_total),
        fee_total: Yen(lines.iter().map(|l| l.fee.get()).sum()),
    }
}

fn to_line(vault: &Vault, row: LineRow) -> (SettlementLine, Option<BankAccountView>) {
    let account = stored_bank_account(
        vault,
        (
            row.bank_code,
            row.branch_code,
            row.account_type,
            row.account_number,
            row.account_holder,
        ),
    );
    (
        SettlementLine {
            store_id: row.store_id,
            store_name: row.store_name,
            payment_count: row.payment_count,
            gross: Yen(row.gross),
            refund_count: row.refund_count,
            refunds: Yen(row.refunds),
            net: Yen(row.net),
            premium: Yen(row.premium),
            charged: Yen(row.charged),
            points: Yen(row.points),
            carried_in: Yen(row.carried_in),
            amount_due: Yen(row.amount_due),
            fee: Yen(row.fee),
            status: parse_status(&row.status),
            hold_reason: row.hold_reason.as_deref().map(hold_reason_text),
            paid_at: row.paid_at.map(from_millis),
            returned_at: row.returned_at.map(from_millis),
            return_reason: row.return_reason,
        },
        account.as_ref().map(bank_view),
    )
}

async fn cycle_row<'e, E>(
    exec: E,
    programme: &Programme,
    period: Period,
) -> SettlementResult<Option<CycleRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as::<_, CycleRow>(
        "SELECT id, period, first_day, last_day, payout_date, transfer_count, transfer_total,
                transfer_file, closed_at
         FROM settlement_cycles WHERE programme_id = $1 AND period = $2",
    )
    .bind(&programme.id)
    .bind(period.to_string())
    .fetch_optional(exec)
    .await?)
}

/// A closed cycle, or `None` when `period` is not closed.
pub async fn load(
    db: &Db,
    programme: &Programme,
    period: Period,
) -> SettlementResult<Option<Closed>> {
    let Some(cycle) = cycle_row(db.writer(), programme, period).await? else {
        return Ok(None);
    };
    let rows = sqlx::query_as::<_, LineRow>(AssertSqlSafe(format!(
        "SELECT {LINE_COLUMNS} FROM settlement_lines l JOIN stores s ON s.id = l.store_id
         WHERE l.cycle_id = $1 ORDER BY l.store_id"
    )))
    .bind(cycle.id)
    .fetch_all(db.writer())
    .await?;
    let mut lines = Vec::with_capacity(rows.len());
    let mut accounts = BTreeMap::new();
    for row in rows {
        let (line, account) = to_line(db.vault(), row);
        if let Some(account) = account {
            accounts.insert(line.store_id, account);
        }
        lines.push(line);
    }
    Ok(Some(Closed {
        period,
        settlement: Settlement {
            summary: summary(&cycle, &lines),
            lines,
        },
        transfer_file: cycle
            .transfer_file
            .map(|sealed| {
                let text =
                    String::from_utf8(sealed).map_err(|_| crate::vault::VaultError::Format)?;
                db.vault().open_bytes(TRANSFER_FILE, &text)
            })
            .transpose()?,
        accounts,
    }))
}

/// Every closed cycle of the programme, newest first.
pub async fn list(db: &Db, programme: &Programme) -> SettlementResult<Vec<SettlementSummary>> {
    let cycles = sqlx::query_as::<_, CycleRow>(
        "SELECT id, period, first_day, last_day, payout_date, transfer_count, transfer_total,
                transfer_file, closed_at
         FROM settlement_cycles WHERE programme_id = $1 ORDER BY starts_at DESC",
    )
    .bind(&programme.id)
    .fetch_all(db.reader())
    .await?;
    let mut out = Vec::with_capacity(cycles.len());
    for cycle in cycles {
        let fee = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
            "SELECT {} FROM settlement_lines WHERE cycle_id = $1",
            sum("fee")
        )))
        .bind(cycle.id)
        .fetch_one(db.reader())
        .await?;
        let mut s = summary(&cycle, &[]);
        s.fee_total = Yen(fee);
        out.push(s);
    }
    Ok(out)
}

/// A store's statements, newest first (store mode shows them).
pub async fn store_statements(
    db: &Db,
    programme: &Programme,
    store_id: i64,
) -> SettlementResult<Vec<(StoreStatement, Option<BankAccountView>)>> {
    let periods = sqlx::query_scalar::<_, String>(
        "SELECT c.period FROM settlement_cycles c JOIN settlement_lines l ON l.cycle_id = c.id
         WHERE c.programme_id = $1 AND l.store_id = $2 ORDER BY c.starts_at DESC",
    )
    .bind(&programme.id)
    .bind(store_id)
    .fetch_all(db.reader())
    .await?;
    let mut out = Vec::new();
    for text in periods {
        let period = parse_period(programme, &text)?;
        if let Some(found) = store_statement(db, programme, period, store_id).await? {
            out.push(found);
        }
    }
    Ok(out)
}

/// One store's statement for a closed period, with the account it was paid to.
pub async fn store_statement(
    db: &Db,
    programme: &Programme,
    period: Period,
    store_id: i64,
) -> SettlementResult<Option<(StoreStatement, Option<BankAccountView>)>> {
    let closed = load(db, programme, period)
        .await?
        .ok_or_else(|| SettlementError::NotClosed(period.to_string()))?;
    let account = closed.accounts.get(&store_id).cloned();
    Ok(closed
        .settlement
        .lines
        .into_iter()
        .find(|l| l.store_id == store_id)
        .map(|line| {
            (
                StoreStatement {
                    summary: closed.settlement.summary.clone(),
                    line,
                },
                account,
            )
        }))
}

async fn line_for_update(
    tx: &mut Tx,
    programme: &Programme,
    period: Period,
    store_id: i64,
) -> SettlementResult<(i64, i64, PayoutStatus, Option<i64>)> {
    let cycle = cycle_row(&mut **tx, programme, period)
        .await?
        .ok_or_else(|| SettlementError::NotClosed(period.to_string()))?;
    let (line_id, amount_due, status, payout_op) =
        sqlx::query_as::<_, (i64, i64, String, Option<i64>)>(
            "SELECT id, amount_due, status, payout_operation_id FROM settlement_lines
         WHERE cycle_id = $1 AND store_id = $2",
        )
        .bind(cycle.id)
        .bind(store_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| SettlementError::UnknownPayout {
            period: period.to_string(),
            store_id,
        })?;
    Ok((line_id, amount_due, parse_status(&status), payout_op))
}

/// The bank paid a scheduled payout: the ledger moves the amount from the store's account to
/// the settled account.
pub async fn mark_paid(
    tx: &mut Tx,
    programme: &Programme,
    period: Period,
    store_id: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> SettlementResult<PayoutReceipt> {
    let (line_id, amount, status, _) = line_for_update(tx, programme, period, store_id).await?;
    if status != PayoutStatus::Scheduled {
        return Err(SettlementError::PayoutConflict { status });
    }
    let detail = serde_json::json!({ "programme": programme.id, "period": period.to_string() });
    let op = ledger::payout(tx, store_id, Yen(amount), actor, detail, now).await?;
    // The status guard: of two concurrent markings, only one finds the line still scheduled.
    let marked = sqlx::query(
        "UPDATE settlement_lines SET status = 'paid', payout_operation_id = $1, paid_at = $2
         WHERE id = $3 AND status = 'scheduled'",
    )
    .bind(op)
    .bind(to_millis(now))
    .bind(line_id)
    .execute(&mut **tx)
    .await?;
    if marked.rows_affected() != 1 {
        return Err(SettlementError::PayoutConflict {
            status: PayoutStatus::Paid,
        });
    }
    Ok(PayoutReceipt {
        period: period.to_string(),
        store_id,
        amount: Yen(amount),
        status: PayoutStatus::Paid,
        operation_id: op,
    })
}

/// Marks every scheduled payout of the period paid (the bank executed the whole file).
pub async fn mark_all_paid(
    tx: &mut Tx,
    programme: &Programme,
    period: Period,
    actor: &str,
    now: DateTime<Utc>,
) -> SettlementResult<Vec<PayoutReceipt>> {
    let cycle = cycle_row(&mut **tx, programme, period)
        .await?
        .ok_or_else(|| SettlementError::NotClosed(period.to_string()))?;
    let stores = sqlx::query_scalar::<_, i64>(
        "SELECT store_id FROM settlement_lines WHERE cycle_id = $1 AND status = 'scheduled'
         ORDER BY store_id",
    )
    .bind(cycle.id)
    .fetch_all(&mut **tx)
    .await?;
    if stores.is_empty() {
        return Err(SettlementError::NothingScheduled);
    }
    let mut receipts = Vec::with_capacity(stores.len());
    for store_id in stores {
        receipts.push(mark_paid(tx, programme, period, store_id, actor, now).await?);
    }
    Ok(receipts)
}

/// The bank returned a paid payout: the ledger moves it back to the store's account and the
/// next cycle to close carries it.
pub async fn mark_returned(
    tx: &mut Tx,
    programme: &Programme,
    period: Period,
    store_id: i64,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> SettlementResult<PayoutReceipt> {
    let (line_id, amount, status, payout_op) =
        line_for_update(tx, programme, period, store_id).await?;
    let payout_op = match (status, payout_op) {
        (PayoutStatus::Paid, Some(op)) => op,
        _ => return Err(SettlementError::PayoutConflict { status }),
    };
    let op = ledger::bank_return(tx, payout_op, reason, actor, now).await?;
    let marked = sqlx::query(
        "UPDATE settlement_lines
         SET status = 'returned', return_operation_id = $1, returned_at = $2, return_reason = $3
         WHERE id = $4 AND status = 'paid'",
    )
    .bind(op)
    .bind(to_millis(now))
    .bind(reason)
    .bind(line_id)
    .execute(&mut **tx)
    .await?;
    if marked.rows_affected() != 1 {
        return Err(SettlementError::PayoutConflict {
            status: PayoutStatus::Returned,
        });
    }
    Ok(PayoutReceipt {
        period: period.to_string(),
        store_id,
        amount: Yen(amount),
        status: PayoutStatus::Returned,
        operation_id: op,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_paid_two_weeks_after_the_cutoff_on_a_bank_business_day() {
        let p = Programme::midori_2024().unwrap();
        let pay = |text: &str| payout_date(&p.settlement, parse_period(&p, text).unwrap()).unwrap();
        // 11/30 + 14 = 12/14, a Saturday.
        assert_eq!(pay("2024-11").to_string(), "2024-12-16");
        // 12/31 + 14 = 1/14/2025, a Tuesday after 成人の日.
        assert_eq!(pay("2024-12").to_string(), "2025-01-14");
        // 1/31 + 14 = 2/14/2025, a Friday.
        assert_eq!(pay("2025-01").to_string(), "2025-02-14");
        assert!(parse_period(&p, "2024-11-1").is_err());
    }
}
