//! The ledger: accounts, append-only double-entry transfers, and the operations that move value
//! (charges, issuance of premium sets, payments, refunds). It owns the money invariants and
//! must never break them:
//!
//! 1. Every transfer moves a positive amount from one account to a different one, so the sum
//!    of all balances is zero.
//! 2. No resident purse is ever negative; the cached `balance` of a purse equals the sum of its
//!    transfers, because both change in the same database transaction.
//! 3. An expired premium purse is never spent.
//! 4. A refund is linked to its payment, never exceeds what is left of it, and returns value to
//!    the purses it came from (the latest drawn first).
//! 5. Transfers are never updated or deleted (the database refuses it too).
//! 6. Expiry moves only what is left in premium purses whose expiry has passed, and only to
//!    the issue's expired account; lapsed points go from their points purse to the points'
//!    expired account (issue `points`). Points purses are one per resident and expiry day.
//! 7. A payout moves money from a store's account to the settled account; a bank return
//!    reverses one payout, once, back to the same store. A store's account may be negative for
//!    a while (a refund after a cutoff whose cycle was already paid out); the next cycle's
//!    smaller payout evens it.
//!
//! Whatever draws on a resident's purses serialises on that resident's row (so payments can
//! never overdraw); payments to one store touch no store row at all: store balances are
//! derived from transfers. Payments arriving together are made in one transaction (`pay`).

use crate::clock::{from_millis, to_millis};
use crate::db::{Tx, sum};
use crate::programme::Programme;
use chiiki_core::Yen;
use chiiki_core::protocol::{
    Balance, ChargeMethod, ChargeReceipt, Leg, Purse, PurseKind, RefundReceipt, Transaction,
    TransactionKind, TransactionPage,
};
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, AssertSqlSafe};

mod pay;
pub use pay::{PaymentChannel, PaymentInput, pay, pay_many};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("insufficient balance: {available} available, {requested} requested")]
    InsufficientBalance { available: Yen, requested: Yen },
    #[error("no such resident")]
    UnknownResident,
    #[error("no such store")]
    UnknownStore,
    #[error("the store cannot take payments now")]
    StoreNotAccepting,
    #[error("no such payment")]
    UnknownPayment,
    #[error("refund exceeds what is left of the payment ({refundable} refundable)")]
    RefundExceedsPayment { refundable: Yen },
    #[error("the programme's usage window has not started")]
    ProgrammeNotStarted,
    #[error("the programme's usage window has ended")]
    ProgrammeExpired,
    #[error("amount must be positive")]
    AmountNotPositive,
    #[error("the ledger is inconsistent: {0}")]
    Inconsistent(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub type LedgerResult<T> = Result<T, LedgerError>;

/// What an account holds. Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    ResidentPremium,
    ResidentCharged,
    ResidentPoints,
    Store,
    /// The city's side of premium currency of one issue (negative).
    IssuerPremium,
    /// The city's side of community points (negative).
    IssuerPoints,
    /// The dedicated account (資金管理口座) backing money-bought currency: sale proceeds and
    /// charges. Negative by what residents paid in.
    Fund,
    /// Paid out to stores.
    Settled,
    /// Lapsed at expiry (breakage).
    Expired,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::ResidentPremium => "resident_premium",
            AccountKind::ResidentCharged => "resident_charged",
            AccountKind::ResidentPoints => "resident_points",
            AccountKind::Store => "store",
            AccountKind::IssuerPremium => "issuer_premium",
            AccountKind::IssuerPoints => "issuer_points",
            AccountKind::Fund => "fund",
            AccountKind::Settled => "settled",
            AccountKind::Expired => "expired",
        }
    }

    /// The account kind of a resident's purse of `kind`.
    pub fn of_purse(kind: PurseKind) -> AccountKind {
        match kind {
            PurseKind::Premium => AccountKind::ResidentPremium,
            PurseKind::Charged => AccountKind::ResidentCharged,
            PurseKind::Points => AccountKind::ResidentPoints,
        }
    }

    /// The resident purse this kind of account is, if it is one (the inverse of [`Self::of_purse`]).
    pub fn as_purse(self) -> Option<PurseKind> {
        match self {
            AccountKind::ResidentPremium => Some(PurseKind::Premium),
            AccountKind::ResidentCharged => Some(PurseKind::Charged),
            AccountKind::ResidentPoints => Some(PurseKind::Points),
            _ => None,
        }
    }

    /// The purse an account stored as `kind` is, if it is one.
    fn purse(kind: &str) -> Option<PurseKind> {
        [PurseKind::Premium, PurseKind::Charged, PurseKind::Points]
            .into_iter()
            .find(|&purse| AccountKind::of_purse(purse).as_str() == kind)
    }
}

/// The resident purses' account kinds as an SQL list (a test keeps it in step with
/// `AccountKind::as_str`).
const RESIDENT_KINDS: &str = "('resident_premium', 'resident_charged', 'resident_points')";

/// Who caused an operation, as written in the ledger: `resident:12`, `staff:1`, `store_staff:3`.
pub type Actor = String;

/// An account as a transfer sees it: resident purses keep a cached balance, every other
/// account is derived from transfers so that no hot row (a busy store, the issuer) is updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub kind: AccountKind,
}

impl Account {
    fn cached(self) -> bool {
        matches!(
            self.kind,
            AccountKind::ResidentPremium
                | AccountKind::ResidentCharged
                | AccountKind::ResidentPoints
        )
    }
}

/// Finds an account, opening it on first use.
pub async fn account(
    tx: &mut Tx,
    kind: AccountKind,
    owner_id: i64,
    issue: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> LedgerResult<Account> {
    let find = || {
        sqlx::query_scalar::<_, i64>(
            "SELECT id FROM accounts WHERE kind = $1 AND owner_id = $2 AND issue = $3",
        )
        .bind(kind.as_str())
        .bind(owner_id)
        .bind(issue)
    };
    if let Some(id) = find().fetch_optional(&mut **tx).await? {
        return Ok(Account { id, kind });
    }
    sqlx::query(
        "INSERT INTO accounts (kind, owner_id, issue, expires_at, balance, created_at)
         VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (kind, owner_id, issue) DO NOTHING",
    )
    .bind(kind.as_str())
    .bind(owner_id)
    .bind(issue)
    .bind(expires_at.map(to_millis))
    .bind(to_millis(now))
    .execute(&mut **tx)
    .await?;
    let id = find().fetch_one(&mut **tx).await?;
    Ok(Account { id, kind })
}

/// Opens the purses every resident has from registration on.
pub async fn open_resident_purses(
    tx: &mut Tx,
    resident_id: i64,
    now: DateTime<Utc>,
) -> LedgerResult<()> {
    account(tx, AccountKind::ResidentCharged, resident_id, "", None, now).await?;
    account(tx, AccountKind::ResidentPoints, resident_id, "", None, now).await?;
    Ok(())
}

/// Opens a store's account (at store creation, so payments never have to).
pub async fn open_store_account(
    tx: &mut Tx,
    store_id: i64,
    now: DateTime<Utc>,
) -> LedgerResult<()> {
    account(tx, AccountKind::Store, store_id, "", None, now).await?;
    Ok(())
}

struct NewOperation<'a> {
    kind: &'a str,
    resident_id: Option<i64>,
    store_id: Option<i64>,
    amount: Yen,
    parent_id: Option<i64>,
    actor: &'a str,
    detail: serde_json::Value,
    now: DateTime<Utc>,
}

async fn insert_operation(tx: &mut Tx, op: NewOperation<'_>) -> LedgerResult<i64> {
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO operations
             (kind, resident_id, store_id, amount, parent_id, refunded, actor, detail, created_at)
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8) RETURNING id",
    )
    .bind(op.kind)
    .bind(op.resident_id)
    .bind(op.store_id)
    .bind(op.amount.get())
    .bind(op.parent_id)
    .bind(op.actor)
    .bind(op.detail.to_string())
    .bind(to_millis(op.now))
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// Appends one transfer. A debit of a resident purse only succeeds if the purse covers it (a
/// conditional update, atomic on both engines), so no purse can go below zero.
async fn transfer(
    tx: &mut Tx,
    operation_id: i64,
    from: Account,
    to: Account,
    amount: Yen,
    reverses: Option<i64>,
    now: DateTime<Utc>,
) -> LedgerResult<i64> {
    if !amount.is_positive() {
        return Err(LedgerError::AmountNotPositive);
    }
    if from.cached() {
        let debited = sqlx::query(
            "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1",
        )
        .bind(amount.get())
        .bind(from.id)
        .execute(&mut **tx)
        .await?;
        if debited.rows_affected() != 1 {
            return Err(LedgerError::Inconsistent(format!(
                "purse {} cannot cover {amount}",
                from.id
            )));
        }
    }
    if to.cached() {
        sqlx::query("UPDATE accounts SET balance = balance + $1 WHERE id = $2")
            .bind(amount.get())
            .bind(to.id)
            .execute(&mut **tx)
            .await?;
    }
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO transfers
             (operation_id, debit_account, credit_account, amount, reverses_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(operation_id)
    .bind(from.id)
    .bind(to.id)
    .bind(amount.get())
    .bind(reverses)
    .bind(to_millis(now))
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// One of a resident's purses with its cached balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurseState {
    /// The purse's account id.
    pub id: i64,
    pub kind: PurseKind,
    pub issue: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub balance: Yen,
}

impl PurseState {
    pub fn account(&self) -> Account {
        Account {
            id: self.id,
            kind: AccountKind::of_purse(self.kind),
        }
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    fn leg(&self, amount: Yen) -> Leg {
        Leg {
            purse: self.kind,
            issue: wire_issue(self.kind, &self.issue),
            amount,
        }
    }
}

/// The issue clients see: the programme of a premium purse. Points purses are keyed by their
/// expiry day internally (`points-YYYYMMDD`); clients read the expiry itself instead.
fn wire_issue(kind: PurseKind, issue: &str) -> Option<String> {
    (kind == PurseKind::Premium && !issue.is_empty()).then(|| issue.to_string())
}

async fn resident_purses<'e, E>(exec: E, resident_id: i64) -> LedgerResult<Vec<PurseState>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows =
        sqlx::query_as::<_, (i64, String, String, Option<i64>, i64)>(AssertSqlSafe(format!(
            "SELECT id, kind, issue, expires_at, balance FROM accounts
         WHERE owner_id = $1 AND kind IN {RESIDENT_KINDS} ORDER BY id"
        )))
        .bind(resident_id)
        .fetch_all(exec)
        .await?;
    rows.into_iter().map(purse_from_row).collect()
}

/// A purse from `(id, kind, issue, expires_at, balance)`.
fn purse_from_row(
    (id, kind, issue, expires_at, balance): (i64, String, String, Option<i64>, i64),
) -> LedgerResult<PurseState> {
    let kind = AccountKind::purse(&kind)
        .ok_or_else(|| LedgerError::Inconsistent(format!("account {id} is {kind}")))?;
    Ok(PurseState {
        id,
        kind,
        issue,
        expires_at: expires_at.map(from_millis),
        balance: Yen(balance),
    })
}

/// Yen the resident can spend now: unexpired premium purses and charged money (not points).
pub fn spendable(purses: &[PurseState], now: DateTime<Utc>) -> Yen {
    purses
        .iter()
        .filter(|p| p.kind != PurseKind::Points && !p.is_expired(now))
        .map(|p| p.balance)
        .sum()
}

/// Which purses pay for `amount`, in the order DESIGN.md states: points first when the resident
/// opts in, then premium purses by earliest expiry, then charged money. Expired purses are
/// never drawn on. Returns indexes into `purses` with the amount drawn from each.
pub fn plan_payment(
    purses: &[PurseState],
    amount: Yen,
    use_points: bool,
    now: DateTime<Utc>,
) -> LedgerResult<Vec<(usize, Yen)>> {
    let mut order: Vec<usize> = (0..purses.len())
        .filter(|&i| purses[i].balance.is_positive() && !purses[i].is_expired(now))
        .filter(|&i| use_points || purses[i].kind != PurseKind::Points)
        .collect();
    let rank = |p: &PurseState| match p.kind {
        PurseKind::Points => 0,
        PurseKind::Premium => 1,
        PurseKind::Charged => 2,
    };
    order.sort_by_key(|&i| (rank(&purses[i]), purses[i].expires_at, purses[i].id));
    let mut remaining = amount;
    let mut legs = Vec::new();
    for i in order {
        if !remaining.is_positive() {
            break;
        }
        let take = remaining.min(purses[i].balance);
        legs.push((i, take));
        remaining = Yen(remaining.get() - take.get());
    }
    if remaining.is_positive() {
        let available = order_total(purses, use_points, now);
        return Err(LedgerError::InsufficientBalance {
            available,
            requested: amount,
        });
    }
    Ok(legs)
}

fn order_total(purses: &[PurseState], use_points: bool, now: DateTime<Utc>) -> Yen {
    purses
        .iter()
        .filter(|p| !p.is_expired(now) && (use_points || p.kind != PurseKind::Points))
        .map(|p| p.balance)
        .sum()
}

// ---------------------------------------------------------------------------------------------
// Charges and issuance

pub struct ChargeInput<'a> {
    pub resident_id: i64,
    pub amount: Yen,
    pub method: ChargeMethod,
    pub receipt_number: &'a str,
    pub actor: &'a str,
}

/// Credits a resident's charged purse with money the city received (fund → charged purse).
pub async fn charge(
    tx: &mut Tx,
    input: ChargeInput<'_>,
    now: DateTime<Utc>,
) -> LedgerResult<ChargeReceipt> {
    if !input.amount.is_positive() {
        return Err(LedgerError::AmountNotPositive);
    }
    lock_resident(tx, input.resident_id).await?;
    let purse = account(
        tx,
        AccountKind::ResidentCharged,
        input.resident_id,
        "",
        None,
        now,
    )
    .await?;
    let fund = account(tx, AccountKind::Fund, 0, "", None, now).await?;
    let op = insert_operation(
        tx,
        NewOperation {
            kind: "charge",
            resident_id: Some(input.resident_id),
            store_id: None,
            amount: input.amount,
            parent_id: None,
            actor: input.actor,
            detail: serde_json::json!({
                "method": input.method,
                "receipt_number": input.receipt_number,
            }),
            now,
        },
    )
    .await?;
    transfer(tx, op, fund, purse, input.amount, None, now).await?;
    let purses = resident_purses(&mut **tx, input.resident_id).await?;
    Ok(ChargeReceipt {
        charge_id: op,
        resident_id: input.resident_id,
        amount: input.amount,
        balance_after: spendable(&purses, now),
        created_at: now,
    })
}

/// Issues `sets` premium sets of `programme` to a resident who paid for them: the price goes
/// from the fund account and the premium from the issue's premium issuer account into the
/// resident's premium purse for that issue, which expires with the usage window.
pub async fn issue_sets(
    tx: &mut Tx,
    programme: &Programme,
    resident_id: i64,
    sets: i64,
    actor: &str,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> LedgerResult<i64> {
    let price = programme
        .set_price
        .checked_mul(sets)
        .filter(|y| y.is_positive())
        .ok_or(LedgerError::AmountNotPositive)?;
    let value = programme
        .set_value
        .checked_mul(sets)
        .ok_or(LedgerError::AmountNotPositive)?;
    let premium = Yen(value.get() - price.get());
    lock_resident(tx, resident_id).await?;
    let expires = Some(programme.premium_expires_at());
    let purse = account(
        tx,
        AccountKind::ResidentPremium,
        resident_id,
        &programme.id,
        expires,
        now,
    )
    .await?;
    let fund = account(tx, AccountKind::Fund, 0, "", None, now).await?;
    let issuer = account(tx, AccountKind::IssuerPremium, 0, &programme.id, None, now).await?;
    let op = insert_operation(
        tx,
        NewOperation {
            kind: "purchase",
            resident_id: Some(resident_id),
            store_id: None,
            amount: value,
            parent_id: None,
            actor,
            detail,
            now,
        },
    )
    .await?;
    transfer(tx, op, fund, purse, price, None, now).await?;
    if premium.is_positive() {
        transfer(tx, op, issuer, purse, premium, None, now).await?;
    }
    Ok(op)
}

/// The issue name of points that lapse at `expires_at`: `points-YYYYMMDD`, the JST day the
/// points can no longer be spent (points awarded on one day share a purse).
pub fn points_issue(expires_at: DateTime<Utc>) -> String {
    format!(
        "points-{}",
        chiiki_core::time::jst_date(expires_at).format("%Y%m%d")
    )
}

/// The expired account's issue for lapsed points.
pub const POINTS_EXPIRED_ISSUE: &str = "points";

/// Credits community points to a resident (the city's points issuer account → the points
/// purse of their expiry day). Returns the operation.
pub async fn award_points(
    tx: &mut Tx,
    resident_id: i64,
    points: Yen,
    expires_at: DateTime<Utc>,
    actor: &str,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> LedgerResult<i64> {
    if !points.is_positive() {
        return Err(LedgerError::AmountNotPositive);
    }
    lock_resident(tx, resident_id).await?;
    let purse = account(
        tx,
        AccountKind::ResidentPoints,
        resident_id,
        &points_issue(expires_at),
        Some(expires_at),
        now,
    )
    .await?;
    let issuer = account(tx, AccountKind::IssuerPoints, 0, "", None, now).await?;
    let op = insert_operation(
        tx,
        NewOperation {
            kind: "points",
            resident_id: Some(resident_id),
            store_id: None,
            amount: points,
            parent_id: None,
            actor,
            detail,
            now,
        },
    )
    .await?;
    transfer(tx, op, issuer, purse, points, None, now).await?;
    Ok(op)
}

/// What one call of [`expire_issue`] moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpiredBatch {
    /// Purses (one per resident and issue) that had something left.
    pub purses: i64,
    pub amount: Yen,
}

/// Moves what is left in up to `batch` premium purses of `issue` whose expiry has passed to
/// the issue's expired account: one `expiry` operation per purse, so the resident's history
/// shows it. Idempotent: an emptied purse is not selected again (a refund into it after
/// expiry is moved by the next run). Callers repeat it until it moves fewer than `batch`.
pub async fn expire_issue(
    tx: &mut Tx,
    issue: &str,
    actor: &str,
    batch: i64,
    now: DateTime<Utc>,
) -> LedgerResult<ExpiredBatch> {
    let purses = sqlx::query_as::<_, (i64, i64, String)>(
        "SELECT id, owner_id, issue FROM accounts
         WHERE kind = 'resident_premium' AND issue = $1 AND expires_at <= $2 AND balance > 0
         ORDER BY id LIMIT $3",
    )
    .bind(issue)
    .bind(to_millis(now))
    .bind(batch)
    .fetch_all(&mut **tx)
    .await?;
    if purses.is_empty() {
        return Ok(ExpiredBatch::default());
    }
    let expired = account(tx, AccountKind::Expired, 0, issue, None, now).await?;
    move_to_expired(
        tx,
        AccountKind::ResidentPremium,
        purses,
        expired,
        actor,
        now,
    )
    .await
}

/// Moves what is left in up to `batch` points purses whose expiry has passed to the points'
/// expired account, one `expiry` operation per purse. Idempotent like [`expire_issue`]: an
/// emptied purse is not selected again; callers repeat until fewer than `batch` move.
pub async fn expire_points(
    tx: &mut Tx,
    actor: &str,
    batch: i64,
    now: DateTime<Utc>,
) -> LedgerResult<ExpiredBatch> {
    let purses = sqlx::query_as::<_, (i64, i64, String)>(
        "SELECT id, owner_id, issue FROM accounts
         WHERE kind = 'resident_points' AND expires_at <= $1 AND balance > 0
         ORDER BY id LIMIT $2",
    )
    .bind(to_millis(now))
    .bind(batch)
    .fetch_all(&mut **tx)
    .await?;
    if purses.is_empty() {
        return Ok(ExpiredBatch::default());
    }
    let expired = account(tx, AccountKind::Expired, 0, POINTS_EXPIRED_ISSUE, None, now).await?;
    move_to_expired(tx, AccountKind::ResidentPoints, purses, expired, actor, now).await
}

/// The expiry of each selected purse (`id, owner, issue`) of `kind`: what is left moves to
/// `expired` in one `expiry` operation per purse, so the resident's history shows it.
async fn move_to_expired(
    tx: &mut Tx,
    kind: AccountKind,
    purses: Vec<(i64, i64, String)>,
    expired: Account,
    actor: &str,
    now: DateTime<Utc>,
) -> LedgerResult<ExpiredBatch> {
    let mut done = ExpiredBatch::default();
    for (purse_id, resident_id, issue) in purses {
        lock_resident(tx, resident_id).await?;
        // Read under the resident's lock: a refund landing meanwhile is moved too.
        let balance = sqlx::query_scalar::<_, i64>("SELECT balance FROM accounts WHERE id = $1")
            .bind(purse_id)
            .fetch_one(&mut **tx)
            .await?;
        let amount = Yen(balance);
        if !amount.is_positive() {
            continue;
        }
        let op = insert_operation(
            tx,
            NewOperation {
                kind: "expiry",
                resident_id: Some(resident_id),
                store_id: None,
                amount,
                parent_id: None,
                actor,
                detail: serde_json::json!({ "issue": issue }),
                now,
            },
        )
        .await?;
        let purse = Account { id: purse_id, kind };
        transfer(tx, op, purse, expired, amount, None, now).await?;
        done.purses += 1;
        done.amount = Yen(done.amount.get() + amount.get());
    }
    Ok(done)
}

/// Everything that has lapsed for `issue` so far: the balance of its expired account, summed
/// over the expiry operations' legs (transfers are reached through their operation).
pub async fn expired_total(pool: &AnyPool, issue: &str) -> LedgerResult<Yen> {
    let total = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
        "SELECT {} FROM operations o
         JOIN transfers t ON t.operation_id = o.id
         JOIN accounts a ON a.id = t.credit_account
         WHERE o.kind = 'expiry' AND a.kind = 'expired' AND a.issue = $1",
        sum("t.amount")
    )))
    .bind(issue)
    .fetch_one(pool)
    .await?;
    Ok(Yen(total))
}

/// Takes the resident's row lock for the rest of the transaction.
async fn lock_resident(tx: &mut Tx, resident_id: i64) -> LedgerResult<()> {
    let locked = sqlx::query("UPDATE residents SET payment_seq = payment_seq + 1 WHERE id = $1")
        .bind(resident_id)
        .execute(&mut **tx)
        .await?;
    if locked.rows_affected() == 1 {
        Ok(())
    } else {
        Err(LedgerError::UnknownResident)
    }
}

// ---------------------------------------------------------------------------------------------
// Payments and refunds

pub struct RefundInput<'a> {
    pub payment_id: i64,
    pub amount: Yen,
    pub reason: &'a str,
    pub actor: &'a str,
    /// Store staff may refund only their own store's payments.
    pub only_store: Option<i64>,
}

/// A payment as refunds and the help desk need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub resident_id: i64,
    pub store_id: i64,
    pub amount: Yen,
    pub refunded: Yen,
    pub created_at: DateTime<Utc>,
}

/// The payment `id`, or `None` when there is none or the operation is not a payment. The row
/// is found by its id alone and its kind checked here: with `kind = 'payment'` in the query,
/// PostgreSQL, holding statistics taken before the day's first payment, walks every payment
/// through the `(kind, created_at)` index instead of taking the primary key (20 ms of CPU a
/// lookup, measured; it stalled refunds in the benchmark).
pub async fn find_payment<'e, E>(exec: E, id: i64) -> LedgerResult<Option<PaymentRecord>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query_as::<_, (String, Option<i64>, Option<i64>, i64, i64, i64)>(
        "SELECT kind, resident_id, store_id, amount, refunded, created_at
         FROM operations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(exec)
    .await?;
    Ok(match row {
        Some((kind, Some(resident_id), Some(store_id), amount, refunded, created_at))
            if kind == "payment" =>
        {
            Some(PaymentRecord {
                resident_id,
                store_id,
                amount: Yen(amount),
                refunded: Yen(refunded),
                created_at: from_millis(created_at),
            })
        }
        _ => None,
    })
}

/// Refunds part or all of a payment, back into the purses it came from, latest leg first.
pub async fn refund(
    tx: &mut Tx,
    input: RefundInput<'_>,
    now: DateTime<Utc>,
) -> LedgerResult<RefundReceipt> {
    if !input.amount.is_positive() {
        return Err(LedgerError::AmountNotPositive);
    }
    let payment = find_payment(&mut **tx, input.payment_id)
        .await?
        .ok_or(LedgerError::UnknownPayment)?;
    let (resident_id, store_id) = (payment.resident_id, payment.store_id);
    if input.only_store.is_some_and(|s| s != store_id) {
        return Err(LedgerError::UnknownPayment);
    }
    // Rows in the order every writer of a resident's money takes them (payment batches,
    // charges): the resident's first. A refund then waits for a batch of that resident before
    // it starts, not halfway through with the payment row already held.
    lock_resident(tx, resident_id).await?;
    // The conditional update is the guard: concurrent refunds of one payment serialise on it
    // and can never add up to more than was paid.
    let guarded = sqlx::query(
        "UPDATE operations SET refunded = refunded + $1 WHERE id = $2 AND refunded + $1 <= amount",
    )
    .bind(input.amount.get())
    .bind(input.payment_id)
    .execute(&mut **tx)
    .await?;
    if guarded.rows_affected() != 1 {
        let refunded =
            sqlx::query_scalar::<_, i64>("SELECT refunded FROM operations WHERE id = $1")
                .bind(input.payment_id)
                .fetch_one(&mut **tx)
                .await?;
        return Err(LedgerError::RefundExceedsPayment {
            refundable: Yen(payment.amount.get() - refunded),
        });
    }
    let legs = sqlx::query_as::<_, (i64, i64, String, String, i64, i64)>(AssertSqlSafe(format!(
        "SELECT t.id, a.id, a.kind, a.issue, t.amount,
                (SELECT {} FROM transfers r WHERE r.reverses_id = t.id)
         FROM transfers t JOIN accounts a ON a.id = t.debit_account
         WHERE t.operation_id = $1 ORDER BY t.id DESC",
        sum("r.amount")
    )))
    .bind(input.payment_id)
    .fetch_all(&mut **tx)
    .await?;
    let store = account(tx, AccountKind::Store, store_id, "", None, now).await?;
    let op = insert_operation(
        tx,
        NewOperation {
            kind: "refund",
            resident_id: Some(resident_id),
            store_id: Some(store_id),
            amount: input.amount,
            parent_id: Some(input.payment_id),
            actor: input.actor,
            detail: serde_json::json!({ "reason": input.reason }),
            now,
        },
    )
    .await?;
    let mut remaining = input.amount;
    let mut out = Vec::new();
    for (leg_id, account_id, kind, issue, amount, reversed) in legs {
        let open = Yen(amount - reversed);
        let take = remaining.min(open);
        if !take.is_positive() {
            continue;
        }
        let purse_kind = AccountKind::purse(&kind)
            .ok_or_else(|| LedgerError::Inconsistent(format!("payment leg from {kind}")))?;
        let purse = Account {
            id: account_id,
            kind: AccountKind::of_purse(purse_kind),
        };
        transfer(tx, op, store, purse, take, Some(leg_id), now).await?;
        out.push(Leg {
            purse: purse_kind,
            issue: wire_issue(purse_kind, &issue),
            amount: take,
        });
        remaining = Yen(remaining.get() - take.get());
    }
    if remaining.is_positive() {
        return Err(LedgerError::Inconsistent(format!(
            "payment {} legs cannot take back {remaining}",
            input.payment_id
        )));
    }
    let refunded_total =
        sqlx::query_scalar::<_, i64>("SELECT refunded FROM operations WHERE id = $1")
            .bind(input.payment_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(RefundReceipt {
        refund_id: op,
        payment_id: input.payment_id,
        amount: input.amount,
        legs: out,
        refunded_total: Yen(refunded_total),
        created_at: now,
    })
}

// ---------------------------------------------------------------------------------------------
// Settlement

/// Pays a store what a settlement cycle owes it: store account → settled account. `detail`
/// names the cycle.
pub async fn payout(
    tx: &mut Tx,
    store_id: i64,
    amount: Yen,
    actor: &str,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> LedgerResult<i64> {
    if !amount.is_positive() {
        return Err(LedgerError::AmountNotPositive);
    }
    let store = account(tx, AccountKind::Store, store_id, "", None, now).await?;
    let settled = account(tx, AccountKind::Settled, 0, "", None, now).await?;
    let op = insert_operation(
        tx,
        NewOperation {
            kind: "payout",
            resident_id: None,
            store_id: Some(store_id),
            amount,
            parent_id: None,
            actor,
            detail,
            now,
        },
    )
    .await?;
    transfer(tx, op, store, settled, amount, None, now).await?;
    Ok(op)
}

/// The bank returned a payout (closed account, wrong name, …): the whole payout goes back to
/// the store's account, linked to it, so the next cycle pays it again.
pub async fn bank_return(
    tx: &mut Tx,
    payout_id: i64,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> LedgerResult<i64> {
    let (transfer_id, store_id, amount) = sqlx::query_as::<_, (i64, i64, i64)>(
        "SELECT t.id, o.store_id, t.amount FROM operations o
         JOIN transfers t ON t.operation_id = o.id
         WHERE o.id = $1 AND o.kind = 'payout'",
    )
    .bind(payout_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| LedgerError::Inconsistent(format!("payout {payout_id} not found")))?;
    let store = account(tx, AccountKind::Store, store_id, "", None, now).await?;
    let settled = account(tx, AccountKind::Settled, 0, "", None, now).await?;
    let op = insert_operation(
        tx,
        NewOperation {
            kind: "bank_return",
            resident_id: None,
            store_id: Some(store_id),
            amount: Yen(amount),
            parent_id: Some(payout_id),
            actor,
            detail: serde_json::json!({ "reason": reason }),
            now,
        },
    )
    .await?;
    transfer(tx, op, settled, store, Yen(amount), Some(transfer_id), now).await?;
    Ok(op)
}

// ---------------------------------------------------------------------------------------------
// Reading

pub async fn balance(
    pool: &AnyPool,
    resident_id: i64,
    now: DateTime<Utc>,
) -> LedgerResult<Balance> {
    let purses = resident_purses(pool, resident_id).await?;
    let points = purses
        .iter()
        .filter(|p| p.kind == PurseKind::Points && !p.is_expired(now))
        .map(|p| p.balance)
        .sum();
    Ok(Balance {
        total: spendable(&purses, now),
        points,
        purses: purses
            .iter()
            .map(|p| Purse {
                kind: p.kind,
                issue: wire_issue(p.kind, &p.issue),
                balance: p.balance,
                expires_at: p.expires_at,
            })
            .collect(),
        as_of: now,
    })
}

/// `SELECT <columns>, <balance> FROM accounts a …`: accounts (as `a`) with, as the last column,
/// each one's balance derived from its legs; callers add their `WHERE`. One pass over the
/// transfers grouped by account: transfers have no index by account (migration 0009), so a
/// lookup per account would read them all each time.
pub fn accounts_with_balance_from_legs(columns: &[&str]) -> String {
    let columns: String = columns.iter().map(|c| format!("{c}, ")).collect();
    format!(
        "SELECT {columns}COALESCE(c.credits, 0) - COALESCE(d.debits, 0) FROM accounts a
         LEFT JOIN (SELECT credit_account, {sum} AS credits FROM transfers GROUP BY credit_account) c
              ON c.credit_account = a.id
         LEFT JOIN (SELECT debit_account, {sum} AS debits FROM transfers GROUP BY debit_account) d
              ON d.debit_account = a.id",
        sum = sum("amount")
    )
}

/// What a store has been paid and not yet settled: derived from transfers, never cached.
pub async fn store_balance(pool: &AnyPool, store_id: i64) -> LedgerResult<Yen> {
    let balance = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
        "{} WHERE a.kind = 'store' AND a.owner_id = $1",
        accounts_with_balance_from_legs(&[])
    )))
    .bind(store_id)
    .fetch_optional(pool)
    .await?;
    Ok(Yen(balance.unwrap_or(0)))
}

fn transaction_kind(kind: &str) -> Option<TransactionKind> {
    Some(match kind {
        "charge" => TransactionKind::Charge,
        "payment" => TransactionKind::Payment,
        "refund" => TransactionKind::Refund,
        "purchase" => TransactionKind::Purchase,
        "expiry" => TransactionKind::Expiry,
        "points" => TransactionKind::Points,
        _ => return None,
    })
}

pub const MAX_PAGE: u32 = 100;

/// A resident's history, newest first, `limit` at a time. The cursor is the id of the last
/// operation of the previous page.
pub async fn history(
    pool: &AnyPool,
    resident_id: i64,
    before: Option<i64>,
    limit: u32,
) -> LedgerResult<TransactionPage> {
    let limit = limit.clamp(1, MAX_PAGE);
    let rows = sqlx::query_as::<
        _,
        (
            i64,
            String,
            i64,
            Option<i64>,
            Option<String>,
            Option<i64>,
            i64,
        ),
    >(
        "SELECT o.id, o.kind, o.amount, o.store_id, s.name, o.parent_id, o.created_at
         FROM operations o LEFT JOIN stores s ON s.id = o.store_id
         WHERE o.resident_id = $1 AND o.id < $2
         ORDER BY o.id DESC LIMIT $3",
    )
    .bind(resident_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let (Some(newest), Some(oldest)) = (rows.first(), rows.last()) else {
        return Ok(TransactionPage {
            items: vec![],
            next_cursor: None,
        });
    };
    let legs = sqlx::query_as::<_, (i64, String, String, i64, i64)>(AssertSqlSafe(format!(
        "SELECT t.operation_id, a.kind, a.issue, t.amount,
                CASE WHEN a.id = t.credit_account THEN 1 ELSE -1 END
         FROM transfers t JOIN accounts a ON (a.id = t.debit_account OR a.id = t.credit_account)
         WHERE t.operation_id BETWEEN $1 AND $2 AND a.owner_id = $3 AND a.kind IN {RESIDENT_KINDS}
         ORDER BY t.id"
    )))
    .bind(oldest.0)
    .bind(newest.0)
    .bind(resident_id)
    .fetch_all(pool)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for (id, kind, amount, store_id, store_name, parent_id, created_at) in rows.iter().cloned() {
        let Some(kind) = transaction_kind(&kind) else {
            continue;
        };
        let sign = if matches!(kind, TransactionKind::Payment | TransactionKind::Expiry) {
            -1
        } else {
            1
        };
        let mut op_legs: Vec<Leg> = Vec::new();
        for (_, leg_kind, issue, leg_amount, _) in legs.iter().filter(|l| l.0 == id) {
            let Some(purse) = AccountKind::purse(leg_kind) else {
                continue;
            };
            let issue = wire_issue(purse, issue);
            // A set purchase credits one purse twice (price and premium): show it once.
            match op_legs
                .iter_mut()
                .find(|l| l.purse == purse && l.issue == issue)
            {
                Some(existing) => existing.amount = Yen(existing.amount.get() + leg_amount),
                None => op_legs.push(Leg {
                    purse,
                    issue,
                    amount: Yen(*leg_amount),
                }),
            }
        }
        items.push(Transaction {
            id,
            kind,
            amount: Yen(sign * amount),
            store_id,
            store_name,
            payment_id: parent_id,
            legs: op_legs,
            created_at: from_millis(created_at),
        });
    }
    Ok(TransactionPage {
        next_cursor: more.then(|| oldest.0.to_string()),
        items,
    })
}

// ---------------------------------------------------------------------------------------------
// Invariants

/// Checks the ledger's invariants over the whole database; returns every violation found.
/// Tests call it after everything that moves money; operators can run it any time.
pub async fn check_invariants(pool: &AnyPool) -> LedgerResult<Vec<String>> {
    let mut problems = Vec::new();
    // Zero sum: every leg is a debit and a credit of one amount, so the balances derived from
    // legs sum to zero unless a leg names an account that is not there.
    let derived = accounts_with_balance_from_legs(&["a.id", "a.kind", "a.balance"]);
    let accounts = sqlx::query_as::<_, (i64, String, i64, i64)>(AssertSqlSafe(derived))
        .fetch_all(pool)
        .await?;
    let mut sum_all = 0i64;
    for (id, kind, cached, derived) in accounts {
        sum_all += derived;
        if AccountKind::purse(&kind).is_some() {
            if derived < 0 || cached < 0 {
                problems.push(format!("resident purse {id} is negative ({derived})"));
            }
            if derived != cached {
                problems.push(format!(
                    "purse {id} caches {cached} but its transfers sum to {derived}"
                ));
            }
        }
    }
    if sum_all != 0 {
        problems.push(format!("account balances sum to {sum_all}, not zero"));
    }
    let overdrawn = sqlx::query_as::<_, (i64, i64, i64)>(AssertSqlSafe(format!(
        "SELECT p.id, p.amount, (SELECT {} FROM operations r WHERE r.parent_id = p.id AND r.kind = 'refund')
         FROM operations p WHERE p.kind = 'payment'",
        sum("r.amount")
    )))
    .fetch_all(pool)
    .await?;
    for (id, amount, refunded) in overdrawn {
        if refunded > amount {
            problems.push(format!("payment {id} of {amount} has {refunded} refunded"));
        }
    }
    let unbalanced = sqlx::query_as::<_, (i64, i64, i64)>(AssertSqlSafe(format!(
        "SELECT o.id, o.amount, (SELECT {} FROM transfers t WHERE t.operation_id = o.id)
         FROM operations o
         WHERE o.kind IN ('payment', 'refund', 'charge', 'purchase', 'points', 'expiry',
                          'payout', 'bank_return')",
        sum("t.amount")
    )))
    .fetch_all(pool)
    .await?;
    for (id, amount, legs) in unbalanced {
        if amount != legs {
            problems.push(format!(
                "operation {id} of {amount} has legs summing to {legs}"
            ));
        }
    }
    let reversed = sqlx::query_as::<_, (i64, i64, i64)>(AssertSqlSafe(format!(
        "SELECT t.id, t.amount, (SELECT {} FROM transfers r WHERE r.reverses_id = t.id)
         FROM transfers t WHERE EXISTS (SELECT 1 FROM transfers r WHERE r.reverses_id = t.id)",
        sum("r.amount")
    )))
    .fetch_all(pool)
    .await?;
    for (id, amount, back) in reversed {
        if back > amount {
            problems.push(format!("transfer {id} of {amount} was reversed by {back}"));
        }
    }
    let bad_expiries = sqlx::query_scalar::<_, i64>(
        "SELECT t.id FROM transfers t
         JOIN operations o ON o.id = t.operation_id
         JOIN accounts d ON d.id = t.debit_account
         JOIN accounts c ON c.id = t.credit_account
         WHERE o.kind = 'expiry'
           AND (c.kind <> 'expired' OR d.expires_at IS NULL OR d.expires_at > t.created_at
                OR NOT ((d.kind = 'resident_premium' AND c.issue = d.issue)
                     OR (d.kind = 'resident_points' AND c.issue = 'points')))",
    )
    .fetch_all(pool)
    .await?;
    for id in bad_expiries {
        problems.push(format!(
            "expiry transfer {id} is not from a lapsed purse to its expired account"
        ));
    }
    problems.extend(check_settlement(pool).await?);
    Ok(problems)
}

/// Invariant 7: payouts go from the named store to the settled account; a bank return reverses
/// one of that store's payouts, in full, once.
async fn check_settlement(pool: &AnyPool) -> LedgerResult<Vec<String>> {
    let mut problems = Vec::new();
    let payouts = sqlx::query_scalar::<_, i64>(
        "SELECT t.id FROM transfers t
         JOIN operations o ON o.id = t.operation_id
         JOIN accounts d ON d.id = t.debit_account
         JOIN accounts c ON c.id = t.credit_account
         WHERE o.kind = 'payout'
           AND (d.kind <> 'store' OR d.owner_id <> o.store_id OR c.kind <> 'settled')",
    )
    .fetch_all(pool)
    .await?;
    for id in payouts {
        problems.push(format!("payout transfer {id} is not store → settled"));
    }
    let returns = sqlx::query_scalar::<_, i64>(
        "SELECT r.id FROM transfers r
         JOIN operations o ON o.id = r.operation_id
         LEFT JOIN transfers p ON p.id = r.reverses_id
         LEFT JOIN operations po ON po.id = p.operation_id
         JOIN accounts c ON c.id = r.credit_account
         WHERE o.kind = 'bank_return'
           AND (p.id IS NULL OR po.kind <> 'payout' OR po.id <> o.parent_id
                OR po.store_id <> o.store_id OR c.kind <> 'store' OR c.owner_id <> o.store_id
                OR p.amount <> r.amount)",
    )
    .fetch_all(pool)
    .await?;
    for id in returns {
        problems.push(format!(
            "bank return transfer {id} does not reverse a whole payout of its store"
        ));
    }
    let twice = sqlx::query_scalar::<_, i64>(
        "SELECT parent_id FROM operations WHERE kind = 'bank_return'
         GROUP BY parent_id HAVING COUNT(*) > 1",
    )
    .fetch_all(pool)
    .await?;
    for id in twice {
        problems.push(format!("payout {id} was returned more than once"));
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, day, 0, 0, 0).unwrap()
    }

    fn purse(id: i64, kind: PurseKind, expires: Option<u32>, balance: i64) -> PurseState {
        PurseState {
            id,
            kind,
            issue: if kind == PurseKind::Premium {
                format!("issue-{id}")
            } else {
                String::new()
            },
            expires_at: expires.map(at),
            balance: Yen(balance),
        }
    }

    #[test]
    fn resident_kinds_are_the_purses_account_kinds() {
        let kinds: Vec<String> = [PurseKind::Premium, PurseKind::Charged, PurseKind::Points]
            .into_iter()
            .map(|purse| format!("'{}'", AccountKind::of_purse(purse).as_str()))
            .collect();
        assert_eq!(RESIDENT_KINDS, format!("({})", kinds.join(", ")));
    }

    #[test]
    fn purse_kinds_and_their_accounts_map_both_ways() {
        for kind in [PurseKind::Premium, PurseKind::Charged, PurseKind::Points] {
            let account = AccountKind::of_purse(kind);
            assert_eq!(account.as_purse(), Some(kind));
            assert_eq!(AccountKind::purse(account.as_str()), Some(kind));
        }
        for other in [
            AccountKind::Store,
            AccountKind::Fund,
            AccountKind::IssuerPremium,
        ] {
            assert_eq!(other.as_purse(), None);
            assert_eq!(AccountKind::purse(other.as_str()), None);
        }
        assert_eq!(AccountKind::purse("premium"), None);
    }

    fn purses() -> Vec<PurseState> {
        vec![
            purse(1, PurseKind::Charged, None, 1000),
            purse(2, PurseKind::Points, None, 300),
            purse(3, PurseKind::Premium, Some(20), 500),
            purse(4, PurseKind::Premium, Some(10), 400),
            purse(5, PurseKind::Premium, Some(5), 9999),
        ]
    }

    #[test]
    fn payment_draws_points_then_premium_by_earliest_expiry_then_charged() {
        let plan = plan_payment(&purses(), Yen(1500), true, at(6)).unwrap();
        let ids: Vec<_> = plan
            .iter()
            .map(|&(i, y)| (purses()[i].id, y.get()))
            .collect();
        assert_eq!(ids, vec![(2, 300), (4, 400), (3, 500), (1, 300)]);
    }

    #[test]
    fn payment_never_draws_on_an_expired_purse() {
        // Purse 5 expired at day 5: at day 6 it is skipped despite its balance.
        let err = plan_payment(&purses(), Yen(2000), false, at(6)).unwrap_err();
        assert!(matches!(
            err,
            LedgerError::InsufficientBalance {
                available: Yen(1900),
                requested: Yen(2000)
            }
        ));
        // The expiry instant itself is already too late.
        let plan = plan_payment(&purses(), Yen(100), false, at(5)).unwrap();
        assert_eq!(purses()[plan[0].0].id, 4);
    }

    #[test]
    fn points_are_spent_only_when_the_resident_opts_in() {
        let plan = plan_payment(&purses(), Yen(100), false, at(6)).unwrap();
        assert!(
            plan.iter()
                .all(|&(i, _)| purses()[i].kind != PurseKind::Points)
        );
    }

    #[test]
    fn spendable_excludes_points_and_expired_premium() {
        assert_eq!(spendable(&purses(), at(6)), Yen(1900));
        assert_eq!(spendable(&purses(), at(1)), Yen(1900 + 9999));
    }
}
