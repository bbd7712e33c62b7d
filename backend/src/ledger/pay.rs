//! Payments: a resident pays a store, one leg per purse drawn on. Payments that arrive together
//! share one transaction (the payment writer's batch), so every statement here is set-based:
//! a batch of thirty costs about the statements of one payment. `pay` is a batch of one; there
//! is no second implementation of the rules.
//!
//! A payment never draws more than a purse holds: the purses are read under the residents'
//! row locks (PostgreSQL; SQLite has one writer), planned in memory in arrival order (a
//! resident paying twice in one batch sees the first payment's effect), and debited by a
//! conditional update that would refuse to go below zero anyway. No store row is touched: a store's balance is derived
//! from transfers, so one busy store is not a hot row.

use super::{
    Account, AccountKind, LedgerError, LedgerResult, PurseState, RESIDENT_KINDS, account,
    plan_payment, purse_from_row, spendable,
};
use crate::clock::to_millis;
use crate::db::{Tx, is_sqlite, padded, placeholders, value_rows};
use crate::programme::Programme;
use chiiki_core::Yen;
use chiiki_core::protocol::{Leg, PaymentReceipt, StoreStatus};
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct PaymentInput<'a> {
    pub resident_id: i64,
    pub store_id: i64,
    pub amount: Yen,
    pub use_points: bool,
    pub programme: &'a Programme,
    pub channel: PaymentChannel<'a>,
}

/// How a payment was made; recorded in its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentChannel<'a> {
    /// The resident paid in the app (PIN checked by the caller).
    ResidentApp,
    /// Store staff (`actor`) scanned the resident code that `device_id` showed.
    ResidentCode { device_id: i64, actor: &'a str },
}

/// A resident pays a store: one leg per purse drawn on.
pub async fn pay(
    tx: &mut Tx,
    input: PaymentInput<'_>,
    now: DateTime<Utc>,
) -> LedgerResult<PaymentReceipt> {
    let mut receipts = pay_many(tx, std::slice::from_ref(&input), now).await?;
    receipts
        .pop()
        .unwrap_or_else(|| Err(LedgerError::Inconsistent("a payment went missing".into())))
}

/// Makes `payments` in the order given, inside `tx`. Per payment, its receipt or why it was
/// refused (nothing of a refused payment is written). The outer error is a fault of the
/// transaction itself: then nothing may be committed.
pub async fn pay_many(
    tx: &mut Tx,
    payments: &[PaymentInput<'_>],
    now: DateTime<Utc>,
) -> LedgerResult<Vec<LedgerResult<PaymentReceipt>>> {
    let mut refused: Vec<Option<LedgerError>> =
        payments.iter().map(|p| outside_rules(p, now)).collect();
    let open = |i: &usize| refused[*i].is_none();
    let stores: BTreeSet<i64> = (0..payments.len())
        .filter(open)
        .map(|i| payments[i].store_id)
        .collect();
    let residents: BTreeSet<i64> = (0..payments.len())
        .filter(open)
        .map(|i| payments[i].resident_id)
        .collect();
    let payees = if stores.is_empty() {
        HashMap::new()
    } else {
        payees(tx, &stores).await?
    };
    let mut purses = if residents.is_empty() {
        HashMap::new()
    } else {
        locked_purses(tx, &residents).await?
    };

    let mut planned: Vec<Planned> = Vec::new();
    for (index, payment) in payments.iter().enumerate() {
        if refused[index].is_some() {
            continue;
        }
        match plan(tx, payment, &payees, &mut purses, now).await? {
            Ok(mut p) => {
                p.index = index;
                planned.push(p);
            }
            Err(why) => refused[index] = Some(why),
        }
    }
    if !planned.is_empty() {
        let ids = insert_payments(tx, payments, &planned, now).await?;
        for (p, id) in planned.iter_mut().zip(ids) {
            p.payment_id = id;
        }
        debit_purses(tx, &planned).await?;
        insert_legs(tx, &planned, now).await?;
    }

    let mut receipts: Vec<Option<PaymentReceipt>> = payments.iter().map(|_| None).collect();
    for p in planned {
        let payment = &payments[p.index];
        receipts[p.index] = Some(PaymentReceipt {
            payment_id: p.payment_id,
            store_id: payment.store_id,
            store_name: p.store_name,
            amount: payment.amount,
            legs: p.legs.into_iter().map(|(_, leg)| leg).collect(),
            balance_after: p.balance_after,
            created_at: now,
        });
    }
    Ok(receipts
        .into_iter()
        .zip(refused)
        .map(|(receipt, why)| match (receipt, why) {
            (Some(receipt), _) => Ok(receipt),
            (None, Some(why)) => Err(why),
            (None, None) => Err(LedgerError::Inconsistent(
                "a payment was neither made nor refused".into(),
            )),
        })
        .collect())
}

/// The checks that need no database.
fn outside_rules(payment: &PaymentInput<'_>, now: DateTime<Utc>) -> Option<LedgerError> {
    if !payment.amount.is_positive() {
        Some(LedgerError::AmountNotPositive)
    } else if now < payment.programme.usage.start() {
        Some(LedgerError::ProgrammeNotStarted)
    } else if now >= payment.programme.usage.end() {
        Some(LedgerError::ProgrammeExpired)
    } else {
        None
    }
}

/// A payment that passed every rule, waiting to be written.
struct Planned {
    index: usize,
    payment_id: i64,
    store_name: String,
    store: Account,
    /// The purse each leg draws on, and the leg as the receipt shows it.
    legs: Vec<(Account, Leg)>,
    balance_after: Yen,
}

/// Plans one payment against the purses as earlier payments of the batch left them, and
/// applies the plan to them. The inner error refuses this payment only.
async fn plan(
    tx: &mut Tx,
    payment: &PaymentInput<'_>,
    payees: &HashMap<i64, Payee>,
    purses: &mut HashMap<i64, Vec<PurseState>>,
    now: DateTime<Utc>,
) -> LedgerResult<Result<Planned, LedgerError>> {
    let Some(payee) = payees.get(&payment.store_id) else {
        return Ok(Err(LedgerError::UnknownStore));
    };
    if payee.status != StoreStatus::Approved {
        return Ok(Err(LedgerError::StoreNotAccepting));
    }
    // Every resident has purses from registration on.
    let Some(purses) = purses.get_mut(&payment.resident_id) else {
        return Ok(Err(LedgerError::UnknownResident));
    };
    let drawn = match plan_payment(purses, payment.amount, payment.use_points, now) {
        Ok(drawn) => drawn,
        Err(why) => return Ok(Err(why)),
    };
    let store = match payee.account {
        Some(id) => Account {
            id,
            kind: AccountKind::Store,
        },
        // Only a store made before store accounts were opened with the store.
        None => account(tx, AccountKind::Store, payment.store_id, "", None, now).await?,
    };
    let mut legs = Vec::with_capacity(drawn.len());
    for (i, amount) in drawn {
        legs.push((purses[i].account(), purses[i].leg(amount)));
        purses[i].balance = Yen(purses[i].balance.get() - amount.get());
    }
    Ok(Ok(Planned {
        index: 0,
        payment_id: 0,
        store_name: payee.name.clone(),
        store,
        legs,
        balance_after: spendable(purses, now),
    }))
}

struct Payee {
    name: String,
    status: StoreStatus,
    /// `None` only for a store made before its account was opened with it.
    account: Option<i64>,
}

/// The stores paid, with their accounts, in one statement.
async fn payees(tx: &mut Tx, stores: &BTreeSet<i64>) -> LedgerResult<HashMap<i64, Payee>> {
    let sql = format!(
        "SELECT s.id, s.name, s.status, a.id FROM stores s
         LEFT JOIN accounts a ON a.kind = 'store' AND a.owner_id = s.id AND a.issue = ''
         WHERE s.id IN ({})",
        placeholders(1, padded(stores.len()))
    );
    let mut query = sqlx::query_as::<_, (i64, String, String, Option<i64>)>(AssertSqlSafe(sql));
    for id in stores {
        query = query.bind(*id);
    }
    for _ in stores.len()..padded(stores.len()) {
        query = query.bind(None::<i64>);
    }
    let mut payees = HashMap::with_capacity(stores.len());
    for (id, name, status, account) in query.fetch_all(&mut **tx).await? {
        let status = crate::stores::parse_status(&status)
            .ok_or_else(|| LedgerError::Inconsistent(format!("store {id} status {status}")))?;
        payees.insert(
            id,
            Payee {
                name,
                status,
                account,
            },
        );
    }
    Ok(payees)
}

/// The purses of `residents`, with the residents' rows locked for the rest of the transaction
/// on PostgreSQL (SQLite's single writer already excludes every other writer): whatever draws
/// on a resident's purses takes that lock first, so what this read found is still there at
/// the debit. Rows are locked in resident order, so overlapping batches wait for
/// each other instead of deadlocking; a lock the transaction already holds (a payment batch
/// took it with the PINs) costs nothing more.
async fn locked_purses(
    tx: &mut Tx,
    residents: &BTreeSet<i64>,
) -> LedgerResult<HashMap<i64, Vec<PurseState>>> {
    let lock = if is_sqlite(tx) {
        ""
    } else {
        " FOR UPDATE OF r"
    };
    let sql = format!(
        "SELECT a.id, a.owner_id, a.kind, a.issue, a.expires_at, a.balance
         FROM accounts a JOIN residents r ON r.id = a.owner_id
         WHERE a.owner_id IN ({}) AND a.kind IN {RESIDENT_KINDS} ORDER BY r.id, a.id{lock}",
        placeholders(1, padded(residents.len()))
    );
    let mut query =
        sqlx::query_as::<_, (i64, i64, String, String, Option<i64>, i64)>(AssertSqlSafe(sql));
    for id in residents {
        query = query.bind(*id);
    }
    for _ in residents.len()..padded(residents.len()) {
        query = query.bind(None::<i64>);
    }
    let mut purses: HashMap<i64, Vec<PurseState>> = HashMap::with_capacity(residents.len());
    for (id, owner, kind, issue, expires_at, balance) in query.fetch_all(&mut **tx).await? {
        let purse = purse_from_row((id, kind, issue, expires_at, balance))?;
        purses.entry(owner).or_default().push(purse);
    }
    Ok(purses)
}

/// One operation per planned payment, in one statement. Returns their ids in the order of
/// `planned`: both engines number the rows of one insert in the order they are given.
async fn insert_payments(
    tx: &mut Tx,
    payments: &[PaymentInput<'_>],
    planned: &[Planned],
    now: DateTime<Utc>,
) -> LedgerResult<Vec<i64>> {
    let rows = padded(planned.len());
    let sql = format!(
        "INSERT INTO operations
             (kind, resident_id, store_id, amount, parent_id, refunded, actor, detail, created_at)
         SELECT 'payment', column1, column2, column3, NULL, 0, column4, column5, $1
         FROM (VALUES {}) AS payments WHERE column1 IS NOT NULL RETURNING id",
        value_rows(2, rows, 5)
    );
    let mut query = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql)).bind(to_millis(now));
    for p in planned {
        let payment = &payments[p.index];
        let (actor, detail) = match payment.channel {
            PaymentChannel::ResidentApp => (
                format!("resident:{}", payment.resident_id),
                serde_json::json!({ "use_points": payment.use_points }),
            ),
            PaymentChannel::ResidentCode { device_id, actor } => (
                actor.to_string(),
                serde_json::json!({
                    "use_points": payment.use_points,
                    "channel": "resident_code",
                    "device_id": device_id,
                }),
            ),
        };
        query = query
            .bind(payment.resident_id)
            .bind(payment.store_id)
            .bind(payment.amount.get())
            .bind(actor)
            .bind(detail.to_string());
    }
    for _ in planned.len()..rows {
        query = query
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<String>)
            .bind(None::<String>);
    }
    let mut ids = query.fetch_all(&mut **tx).await?;
    if ids.len() != planned.len() {
        return Err(LedgerError::Inconsistent(format!(
            "{} payments written for {} planned",
            ids.len(),
            planned.len()
        )));
    }
    // Ids grow in insertion order; the order rows come back in is not promised.
    ids.sort_unstable();
    Ok(ids)
}

/// Lowers the cached balance of every purse drawn on, by what the batch drew from it, in one
/// statement. The condition keeps a purse from going below zero even if the plan were wrong.
async fn debit_purses(tx: &mut Tx, planned: &[Planned]) -> LedgerResult<()> {
    let mut drawn: BTreeMap<i64, i64> = BTreeMap::new();
    for (purse, leg) in planned.iter().flat_map(|p| &p.legs) {
        *drawn.entry(purse.id).or_default() += leg.amount.get();
    }
    let rows = padded(drawn.len());
    let sql = format!(
        "UPDATE accounts SET balance = accounts.balance - drawn.column2
         FROM (VALUES {}) AS drawn
         WHERE accounts.id = drawn.column1 AND accounts.balance >= drawn.column2",
        value_rows(1, rows, 2)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (id, amount) in &drawn {
        query = query.bind(*id).bind(*amount);
    }
    for _ in drawn.len()..rows {
        query = query.bind(None::<i64>).bind(None::<i64>);
    }
    let debited = query.execute(&mut **tx).await?;
    if debited.rows_affected() != drawn.len() as u64 {
        return Err(LedgerError::Inconsistent(format!(
            "{} of {} purses could cover what was drawn",
            debited.rows_affected(),
            drawn.len()
        )));
    }
    Ok(())
}

/// The transfers, purse to store, one per leg, in payment and leg order (a refund returns the
/// latest leg first).
async fn insert_legs(tx: &mut Tx, planned: &[Planned], now: DateTime<Utc>) -> LedgerResult<()> {
    let legs: Vec<(i64, i64, i64, i64)> = planned
        .iter()
        .flat_map(|p| {
            p.legs
                .iter()
                .map(|(purse, leg)| (p.payment_id, purse.id, p.store.id, leg.amount.get()))
        })
        .collect();
    let rows = padded(legs.len());
    let sql = format!(
        "INSERT INTO transfers
             (operation_id, debit_account, credit_account, amount, reverses_id, created_at)
         SELECT column1, column2, column3, column4, NULL, $1
         FROM (VALUES {}) AS legs WHERE column1 IS NOT NULL",
        value_rows(2, rows, 4)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(to_millis(now));
    for (operation, from, to, amount) in &legs {
        query = query.bind(*operation).bind(*from).bind(*to).bind(*amount);
    }
    for _ in legs.len()..rows {
        query = query
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<i64>);
    }
    let written = query.execute(&mut **tx).await?;
    if written.rows_affected() != legs.len() as u64 {
        return Err(LedgerError::Inconsistent(format!(
            "{} of {} payment legs written",
            written.rows_affected(),
            legs.len()
        )));
    }
    Ok(())
}
