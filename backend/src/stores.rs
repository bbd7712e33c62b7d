//! Stores: creation by city staff, approval, and the public directory the app caches for
//! offline use. (Applications by stores themselves, bank accounts and posters come with the
//! stores issue.)

use crate::clock::{from_millis, to_millis};
use crate::db::Db;
use crate::ledger;
use crate::programme::Programme;
use crate::residents::{Kana, PostalCode, ResidentError};
use chiiki_core::protocol::{CreateStore, Industry, StoreDetail, StoreStatus, StoreSummary};
use chiiki_core::qr::StoreCodeSpec;
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("no such store")]
    Unknown,
    #[error("a {from:?} store cannot become {to:?}")]
    InvalidTransition { from: StoreStatus, to: StoreStatus },
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
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

fn status_name(s: StoreStatus) -> &'static str {
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
        let romanised = req.romanised_name.trim();
        // EMV tag 59 allows 25 printable ASCII characters.
        if romanised.is_empty()
            || romanised.len() > 25
            || !romanised.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        {
            return Err(invalid(
                "romanised_name",
                "ローマ字表記は25文字以内の半角英数字で入力してください。",
            ));
        }
        let postal_code = PostalCode::parse(&req.postal_code)?;
        let district = programme
            .city
            .district(req.district.trim())
            .ok_or_else(|| invalid("district", "市内の地区を選んでください。"))?;
        if !district.has_postal_code(postal_code.as_str()) {
            return Err(invalid(
                "postal_code",
                "郵便番号が市内（選んだ地区）のものではありません。",
            ));
        }
        Ok(NewStore {
            name: text(&req.name, "name", 60)?,
            kana: Kana::parse(&req.kana, "kana")?.as_str().to_string(),
            romanised_name: romanised.to_string(),
            industry: req.industry,
            district: district.name.clone(),
            address: text(&req.address, "address", 200)?,
            postal_code: postal_code.as_str().to_string(),
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
    let changed =
        sqlx::query("UPDATE stores SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
            .bind(status_name(to))
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
