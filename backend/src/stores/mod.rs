//! Stores: applications (by the store on the public form or the API, or by city staff), the
//! staff's review (approve, reject with a reason, suspend), bank accounts for payouts, and the
//! public directory the app caches for offline use. A suspended store cannot take payments
//! (the ledger checks the status in the payment's transaction).

pub mod application;
pub mod apply_page;
pub mod services;

use crate::clock::{from_millis, to_millis};
use crate::db::Db;
use crate::ledger;
use crate::programme::Programme;
use crate::residents::{Kana, PostalCode, ResidentError};
use crate::vault::{Vault, VaultError};
use crate::zengin::{BankAccount, BankError, DepositKind};
use chiiki_core::protocol::{
    CreateStore, Industry, SizeClass, StoreDetail, StoreRecord, StoreStatus, StoreSummary,
};
use chiiki_core::qr::StoreCodeSpec;
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

pub use application::NewApplication;
pub use services::StoreServices;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("bank account: {0}")]
    Bank(BankError),
    #[error("no such store")]
    Unknown,
    #[error("a {from:?} store cannot become {to:?}")]
    InvalidTransition { from: StoreStatus, to: StoreStatus },
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    /// The request field at fault (for field errors).
    pub fn field(&self) -> &'static str {
        match self {
            StoreError::Invalid { field, .. } => field,
            StoreError::Bank(e) => e.field(),
            _ => "",
        }
    }

    /// A plain Japanese message for a field error.
    pub fn message_ja(&self) -> String {
        match self {
            StoreError::Invalid { message, .. } => (*message).to_string(),
            StoreError::Bank(e) => e.message_ja(),
            other => other.to_string(),
        }
    }
}

impl From<ResidentError> for StoreError {
    fn from(e: ResidentError) -> Self {
        match e {
            ResidentError::Invalid { field, message } => StoreError::Invalid { field, message },
            ResidentError::Db(e) => StoreError::Db(e),
            other => StoreError::Db(sqlx::Error::Protocol(other.to_string())),
        }
    }
}

pub fn parse_status(s: &str) -> Option<StoreStatus> {
    Some(match s {
        "pending" => StoreStatus::Pending,
        "approved" => StoreStatus::Approved,
        "rejected" => StoreStatus::Rejected,
        "suspended" => StoreStatus::Suspended,
        _ => return None,
    })
}

pub fn status_name(s: StoreStatus) -> &'static str {
    match s {
        StoreStatus::Pending => "pending",
        StoreStatus::Approved => "approved",
        StoreStatus::Rejected => "rejected",
        StoreStatus::Suspended => "suspended",
    }
}

fn invalid(field: &'static str, message: &'static str) -> StoreError {
    StoreError::Invalid { field, message }
}

fn text(raw: &str, field: &'static str, max: usize) -> Result<String, StoreError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(invalid(field, "入力されていないか、長すぎます。"));
    }
    Ok(t.to_string())
}

/// The Latin-letter name for the QR code: EMV tag 59 allows 25 printable ASCII characters.
fn romanised(raw: &str) -> Result<String, StoreError> {
    let romanised = raw.trim();
    if romanised.is_empty()
        || romanised.len() > 25
        || !romanised.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    {
        return Err(invalid(
            "romanised_name",
            "ローマ字表記は25文字以内の半角英数字で入力してください。",
        ));
    }
    Ok(romanised.to_string())
}

/// A postal code inside the city, in the district chosen: (postal code, district name).
fn place(
    postal_code: &str,
    district: &str,
    programme: &Programme,
) -> Result<(String, String), StoreError> {
    let postal_code = PostalCode::parse(postal_code)?;
    let district = programme
        .city
        .district(district.trim())
        .ok_or_else(|| invalid("district", "市内の地区を選んでください。"))?;
    if !district.has_postal_code(postal_code.as_str()) {
        return Err(invalid(
            "postal_code",
            "郵便番号が市内（選んだ地区）のものではありません。",
        ));
    }
    Ok((postal_code.as_str().to_string(), district.name.clone()))
}

/// A store description that passed every check.
#[derive(Debug, Clone)]
pub struct NewStore {
    pub name: String,
    pub kana: String,
    pub romanised_name: String,
    pub industry: Industry,
    pub district: String,
    pub address: String,
    pub postal_code: String,
}

impl NewStore {
    pub fn parse(req: &CreateStore, programme: &Programme) -> Result<NewStore, StoreError> {
        let romanised_name = romanised(&req.romanised_name)?;
        let (postal_code, district) = place(&req.postal_code, &req.district, programme)?;
        Ok(NewStore {
            name: text(&req.name, "name", 60)?,
            kana: Kana::parse(&req.kana, "kana")?.as_str().to_string(),
            romanised_name,
            industry: req.industry,
            district,
            address: text(&req.address, "address", 200)?,
            postal_code,
        })
    }
}

/// Records a store (pending approval) and opens its ledger account.
pub async fn create(
    db: &Db,
    store: &NewStore,
    now: DateTime<Utc>,
) -> Result<StoreDetail, StoreError> {
    let mut tx = db.begin().await?;
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO stores (name, kana, romanised_name, industry, district, address, postal_code,
                             status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8) RETURNING id",
    )
    .bind(&store.name)
    .bind(&store.kana)
    .bind(&store.romanised_name)
    .bind(store.industry.code())
    .bind(&store.district)
    .bind(&store.address)
    .bind(&store.postal_code)
    .bind(to_millis(now))
    .fetch_one(&mut *tx)
    .await?;
    ledger::open_store_account(&mut tx, id, now).await?;
    tx.commit().await?;
    detail(db, id).await
}

/// Moves a store to `to` if the transition is allowed (pending → approved / rejected,
/// approved → suspended, suspended → approved).
pub async fn transition(
    db: &Db,
    id: i64,
    to: StoreStatus,
    now: DateTime<Utc>,
) -> Result<StoreDetail, StoreError> {
    transition_with_reason(db, id, to, None, now).await
}

/// A reason staff give for rejecting or suspending a store: 1 to 200 characters.
pub fn parse_reason(raw: &str) -> Result<String, StoreError> {
    text(raw, "reason", 200).map_err(|_| invalid("reason", "理由を200文字以内で入力してください。"))
}

/// [`transition`], recording why (a rejection's or suspension's reason; approval clears it).
pub async fn transition_with_reason(
    db: &Db,
    id: i64,
    to: StoreStatus,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<StoreDetail, StoreError> {
    let current = detail(db, id).await?.status;
    let allowed = matches!(
        (current, to),
        (StoreStatus::Pending, StoreStatus::Approved)
            | (StoreStatus::Pending, StoreStatus::Rejected)
            | (StoreStatus::Approved, StoreStatus::Suspended)
            | (StoreStatus::Suspended, StoreStatus::Approved)
    );
    if !allowed {
        return Err(StoreError::InvalidTransition { from: current, to });
    }
    let changed = sqlx::query(
        "UPDATE stores SET status = $1, status_reason = $2, updated_at = $3
         WHERE id = $4 AND status = $5",
    )
    .bind(status_name(to))
    .bind(reason)
    .bind(to_millis(now))
    .bind(id)
    .bind(status_name(current))
    .execute(db.writer())
    .await?;
    if changed.rows_affected() != 1 {
        return Err(StoreError::InvalidTransition { from: current, to });
    }
    detail(db, id).await
}

type StoreRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
);

const STORE_COLUMNS: &str =
    "id, name, kana, romanised_name, industry, district, address, postal_code, status, updated_at";

fn to_detail(row: StoreRow) -> Result<StoreDetail, StoreError> {
    let (id, name, kana, romanised_name, industry, district, address, postal_code, status, updated) =
        row;
    let corrupt = || StoreError::Db(sqlx::Error::Protocol(format!("store {id} has bad data")));
    Ok(StoreDetail {
        id,
        name,
        kana,
        romanised_name,
        industry: Industry::from_code(&industry).ok_or_else(corrupt)?,
        district,
        address,
        postal_code,
        status: parse_status(&status).ok_or_else(corrupt)?,
        updated_at: from_millis(updated),
    })
}

pub async fn detail(db: &Db, id: i64) -> Result<StoreDetail, StoreError> {
    let row = sqlx::query_as::<_, StoreRow>(AssertSqlSafe(format!(
        "SELECT {STORE_COLUMNS} FROM stores WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.writer())
    .await?
    .ok_or(StoreError::Unknown)?;
    to_detail(row)
}

/// What a store's printed QR code says: ours, this programme, this store, laid out the JPQR way.
pub fn code_spec(store: &StoreDetail, programme: &Programme) -> StoreCodeSpec {
    // Tag 64 holds at most 25 characters; the code only shows the name, the id is what counts.
    let name_ja: String = store.name.chars().take(25).collect();
    StoreCodeSpec {
        programme_id: programme.id.clone(),
        store_id: store.id,
        industry: store.industry,
        romanised_name: store.romanised_name.clone(),
        romanised_city: programme.city.romanised.clone(),
        postal_code: Some(store.postal_code.clone()),
        name_ja: Some(name_ja),
        city_ja: Some(programme.city.name.chars().take(15).collect()),
    }
}

/// Stores the directory shows: approved ones, plus (when syncing with `since`) suspended ones
/// so that the app's cache learns to drop them.
pub async fn directory(
    db: &Db,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<StoreSummary>, StoreError> {
    let rows = sqlx::query_as::<_, StoreRow>(AssertSqlSafe(format!(
        "SELECT {STORE_COLUMNS} FROM stores
         WHERE updated_at >= $1 AND status IN ('approved', 'suspended')
         ORDER BY id"
    )))
    .bind(since.map(to_millis).unwrap_or(i64::MIN))
    .fetch_all(db.reader())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let d = to_detail(row)?;
        if since.is_none() && d.status != StoreStatus::Approved {
            continue;
        }
        out.push(StoreSummary {
            id: d.id,
            name: d.name,
            kana: d.kana,
            industry: d.industry,
            district: d.district,
            address: d.address,
            accepts_payments: d.status == StoreStatus::Approved,
            updated_at: d.updated_at,
        });
    }
    Ok(out)
}

/// Records an application (a pending store with its bank account) and opens its ledger
/// account.
pub async fn apply(
    db: &Db,
    app: &NewApplication,
    now: DateTime<Utc>,
) -> Result<StoreRecord, StoreError> {
    let store = &app.store;
    let bank = &app.bank;
    let vault = db.vault();
    let mut tx = db.begin().await?;
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO stores (name, kana, romanised_name, industry, district, address, postal_code,
                             status, created_at, updated_at, size_class, representative,
                             contact_name, phone, email, bank_code, branch_code, account_type,
                             account_number, account_holder, applied_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $9, $10, $11, $12, $13, $14, $15,
                 $16, $17, $18, $8) RETURNING id",
    )
    .bind(&store.name)
    .bind(&store.kana)
    .bind(&store.romanised_name)
    .bind(store.industry.code())
    .bind(&store.district)
    .bind(&store.address)
    .bind(&store.postal_code)
    .bind(to_millis(now))
    .bind(app.size_class.as_str())
    .bind(vault.seal("stores.representative", &app.representative)?)
    .bind(vault.seal("stores.contact_name", &app.contact_name)?)
    .bind(vault.seal("stores.phone", app.phone.as_str())?)
    .bind(vault.seal_opt("stores.email", app.email.as_deref())?)
    .bind(bank.bank.as_str())
    .bind(bank.branch.as_str())
    .bind(bank.kind.as_str())
    .bind(vault.seal(ACCOUNT_NUMBER, bank.number.as_str())?)
    .bind(vault.seal(ACCOUNT_HOLDER, bank.holder.as_str())?)
    .fetch_one(&mut *tx)
    .await?;
    ledger::open_store_account(&mut tx, id, now).await?;
    tx.commit().await?;
    record(db, id).await
}

/// Sets (or replaces) the account a store's payouts go to.
pub async fn set_bank_account(
    db: &Db,
    id: i64,
    bank: &BankAccount,
    now: DateTime<Utc>,
) -> Result<StoreRecord, StoreError> {
    let changed = sqlx::query(
        "UPDATE stores SET bank_code = $1, branch_code = $2, account_type = $3,
                           account_number = $4, account_holder = $5, updated_at = $6
         WHERE id = $7",
    )
    .bind(bank.bank.as_str())
    .bind(bank.branch.as_str())
    .bind(bank.kind.as_str())
    .bind(db.vault().seal(ACCOUNT_NUMBER, bank.number.as_str())?)
    .bind(db.vault().seal(ACCOUNT_HOLDER, bank.holder.as_str())?)
    .bind(to_millis(now))
    .bind(id)
    .execute(db.writer())
    .await?;
    if changed.rows_affected() != 1 {
        return Err(StoreError::Unknown);
    }
    record(db, id).await
}

/// The stored parts of a bank account, as read from a row.
pub type StoredAccount = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Vault field names of the sealed bank account columns (the same in every table that keeps
/// an account: `stores` and `settlement_lines`).
pub const ACCOUNT_NUMBER: &str = "bank.account_number";
pub const ACCOUNT_HOLDER: &str = "bank.account_holder";

/// A bank account from stored columns (number and holder sealed), checked again against
/// today's bank code data set; `None` when there is none, it does not open, or it no longer
/// checks (a branch merged away, say).
pub fn stored_bank_account(vault: &Vault, stored: StoredAccount) -> Option<BankAccount> {
    let (Some(bank), Some(branch), Some(kind), Some(number), Some(holder)) = stored else {
        return None;
    };
    let number = vault.open(ACCOUNT_NUMBER, &number).ok()?;
    let holder = vault.open(ACCOUNT_HOLDER, &holder).ok()?;
    let kind = DepositKind::parse(&kind)?;
    BankAccount::parse(&bank, &branch, kind, &number, &holder).ok()
}

const EXTRA_COLUMNS: &str = "size_class, representative, contact_name, phone, email, \
     status_reason, applied_at, bank_code, branch_code, account_type, account_number, \
     account_holder";

/// A store row with everything staff see.
#[derive(sqlx::FromRow)]
struct FullRow {
    id: i64,
    name: String,
    kana: String,
    romanised_name: String,
    industry: String,
    district: String,
    address: String,
    postal_code: String,
    status: String,
    updated_at: i64,
    size_class: Option<String>,
    representative: Option<String>,
    contact_name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    status_reason: Option<String>,
    applied_at: Option<i64>,
    bank_code: Option<String>,
    branch_code: Option<String>,
    account_type: Option<String>,
    account_number: Option<String>,
    account_holder: Option<String>,
}

fn full_to_record(vault: &Vault, row: FullRow) -> Result<StoreRecord, StoreError> {
    let store = to_detail((
        row.id,
        row.name,
        row.kana,
        row.romanised_name,
        row.industry,
        row.district,
        row.address,
        row.postal_code,
        row.status,
        row.updated_at,
    ))?;
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
    let open = |field: &str, value: Option<String>| vault.open_opt(field, value.as_deref());
    Ok(StoreRecord {
        store,
        size_class: row.size_class.as_deref().and_then(SizeClass::parse),
        representative: open("stores.representative", row.representative)?,
        contact_name: open("stores.contact_name", row.contact_name)?,
        phone: open("stores.phone", row.phone)?,
        email: open("stores.email", row.email)?,
        bank_account: account.map(|b| application::bank_view(&b)),
        status_reason: row.status_reason,
        applied_at: row.applied_at.map(from_millis),
    })
}

/// Everything staff see of one store.
pub async fn record(db: &Db, id: i64) -> Result<StoreRecord, StoreError> {
    let row = sqlx::query_as::<_, FullRow>(AssertSqlSafe(format!(
        "SELECT {STORE_COLUMNS}, {EXTRA_COLUMNS} FROM stores WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.writer())
    .await?
    .ok_or(StoreError::Unknown)?;
    full_to_record(db.vault(), row)
}

/// Stores for staff, oldest first, optionally only those with one status (e.g. the pending
/// applications to review).
pub async fn list(db: &Db, status: Option<StoreStatus>) -> Result<Vec<StoreRecord>, StoreError> {
    let rows = sqlx::query_as::<_, FullRow>(AssertSqlSafe(format!(
        "SELECT {STORE_COLUMNS}, {EXTRA_COLUMNS} FROM stores
         WHERE ($1 = '' OR status = $1) ORDER BY id"
    )))
    .bind(status.map(status_name).unwrap_or(""))
    .fetch_all(db.reader())
    .await?;
    rows.into_iter()
        .map(|row| full_to_record(db.vault(), row))
        .collect()
}

/// Approved stores, in id order (the promotion kit prints a poster for each).
pub async fn approved(db: &Db) -> Result<Vec<StoreDetail>, StoreError> {
    let rows = sqlx::query_as::<_, StoreRow>(AssertSqlSafe(format!(
        "SELECT {STORE_COLUMNS} FROM stores WHERE status = 'approved' ORDER BY id"
    )))
    .fetch_all(db.reader())
    .await?;
    rows.into_iter().map(to_detail).collect()
}
