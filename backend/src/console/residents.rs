//! The help desk: find a resident by resident number, phone number, kana or name, and see
//! their purses, history, devices, PIN lock and sale application; unlock a PIN with a reason.
//!
//! Personal data is sealed: phone and kana are found through their blind indexes; a name
//! search opens names one by one (slow on a large city, so the page says to prefer kana).

use super::{Change, Chrome, CsrfField, PageResult, Params, Staff, page, see_other, yen};
use crate::clock::from_millis;
use crate::db::Db;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::residents;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;

/// The most a search lists.
const MAX_FOUND: usize = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/residents", get(search))
        .route("/console/residents/{id}", get(show))
        .route("/console/residents/{id}/unlock", post(unlock))
}

/// How a help-desk search is read: a resident number, a phone number, kana, or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    Id(i64),
    Phone(String),
    Kana(String),
    Name(String),
}

impl Search {
    pub fn parse(kind: &str, text: &str) -> Option<Search> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(match kind {
            "id" => Search::Id(text.parse().ok()?),
            "phone" => Search::Phone(text.to_string()),
            "kana" => Search::Kana(text.to_string()),
            _ => Search::Name(text.to_string()),
        })
    }
}

/// Resident ids matching a search.
pub async fn find(db: &Db, search: &Search) -> Result<Vec<i64>, ApiError> {
    Ok(match search {
        Search::Id(id) => {
            sqlx::query_scalar::<_, i64>("SELECT id FROM residents WHERE id = $1")
                .bind(id)
                .fetch_all(db.reader())
                .await?
        }
        Search::Phone(phone) => match residents::find_by_phone(db, phone).await {
            Ok(found) => found.into_iter().collect(),
            Err(residents::ResidentError::Db(e)) => return Err(e.into()),
            Err(_) => Vec::new(),
        },
        Search::Kana(kana) => match residents::find_by_kana(db, kana).await {
            Ok(found) => found,
            Err(residents::ResidentError::Db(e)) => return Err(e.into()),
            Err(_) => Vec::new(),
        },
        Search::Name(name) => {
            let wanted: String = name.split_whitespace().collect();
            let rows =
                sqlx::query_as::<_, (i64, String)>("SELECT id, name FROM residents ORDER BY id")
                    .fetch_all(db.reader())
                    .await?;
            let mut found = Vec::new();
            for (id, sealed) in rows {
                let name = db
                    .vault()
                    .open("residents.name", &sealed)
                    .map_err(ApiError::internal)?;
                let name: String = name.split_whitespace().collect();
                if name.contains(&wanted) {
                    found.push(id);
                    if found.len() >= MAX_FOUND {
                        break;
                    }
                }
            }
            found
        }
    })
}

pub struct Found {
    pub id: i64,
    pub name: String,
    pub kana: String,
    pub district: String,
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "console/residents.html")]
struct SearchPage {
    chrome: Chrome,
    kind: String,
    q: String,
    searched: bool,
    found: Vec<Found>,
}

async fn search(
    State(state): State<AppState>,
    staff: Staff,
    Params(query): Params<SearchQuery>,
) -> PageResult {
    let search = Search::parse(&query.kind, &query.q);
    let mut found = Vec::new();
    if let Some(search) = &search {
        for id in find(&state.db, search).await?.into_iter().take(MAX_FOUND) {
            let p = residents::profile(&state.db, id).await?;
            found.push(Found {
                id,
                name: p.name,
                kana: p.kana,
                district: p.district,
            });
        }
    }
    page(&SearchPage {
        chrome: Chrome::new(&staff, "住民（問い合わせ対応）", "residents"),
        kind: if query.kind.is_empty() {
            "kana".into()
        } else {
            query.kind
        },
        q: query.q,
        searched: search.is_some(),
        found,
    })
}

pub struct Purse {
    pub kind: String,
    pub balance: String,
    pub expires: String,
}

pub struct HistoryLine {
    pub id: i64,
    pub at: String,
    pub kind: &'static str,
    pub amount: String,
    pub store: String,
    pub payment: bool,
}

pub struct Device {
    pub name: String,
    pub at: String,
    pub signed_in: bool,
}

#[derive(Template)]
#[template(path = "console/resident.html")]
struct ResidentPage {
    chrome: Chrome,
    id: i64,
    profile: chiiki_core::protocol::ResidentProfile,
    purses: Vec<Purse>,
    history: Vec<HistoryLine>,
    devices: Vec<Device>,
    pin_locked: Option<String>,
    pin_failures: i64,
    application: Option<String>,
    orders: Vec<String>,
}

fn operation_ja(kind: &str) -> &'static str {
    match kind {
        "payment" => "支払い",
        "refund" => "返金",
        "charge" => "チャージ",
        "purchase" | "issue" => "購入（発行）",
        "points" => "ポイント",
        "expiry" => "失効",
        _ => "その他",
    }
}

async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Params(query): Params<SearchQuery>,
) -> PageResult {
    let done = query.done;
    let db = &state.db;
    let profile = residents::profile(db, id).await?;
    let now = state.clock.now();
    let purses = sqlx::query_as::<_, (String, String, i64, Option<i64>)>(
        "SELECT kind, issue, balance, expires_at FROM accounts
         WHERE owner_id = $1 AND kind IN ('resident_premium', 'resident_charged', 'resident_points')
         ORDER BY id",
    )
    .bind(id)
    .fetch_all(db.reader())
    .await?
    .into_iter()
    .map(|(kind, issue, balance, expires)| Purse {
        kind: match kind.as_str() {
            "resident_premium" => format!("プレミアム（{issue}）"),
            "resident_charged" => "チャージ".to_string(),
            _ => "ポイント".to_string(),
        },
        balance: yen(balance),
        expires: expires
            .map(|e| chiiki_core::time::format_jst_date(from_millis(e)))
            .unwrap_or_default(),
    })
    .collect();
    let history = sqlx::query_as::<_, (i64, i64, String, i64, Option<String>)>(
        "SELECT o.id, o.created_at, o.kind, o.amount, s.name
         FROM operations o LEFT JOIN stores s ON s.id = o.store_id
         WHERE o.resident_id = $1 ORDER BY o.id DESC LIMIT 50",
    )
    .bind(id)
    .fetch_all(db.reader())
    .await?
    .into_iter()
    .map(|(op, at, kind, amount, store)| HistoryLine {
        id: op,
        at: super::jst(from_millis(at)),
        kind: operation_ja(&kind),
        amount: yen(amount),
        store: store.unwrap_or_default(),
        payment: kind == "payment",
    })
    .collect();
    let devices = sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT d.name, d.created_at,
                (SELECT COUNT(*) FROM sessions s WHERE s.device_id = d.id AND s.revoked_at IS NULL
                   AND s.expires_at > $2)
         FROM devices d JOIN credentials c ON c.id = d.credential_id
         WHERE c.principal_kind = 'resident' AND c.principal_id = $1 ORDER BY d.id",
    )
    .bind(id)
    .bind(crate::clock::to_millis(now))
    .fetch_all(db.reader())
    .await?
    .into_iter()
    .map(|(name, at, live)| Device {
        name,
        at: super::jst(from_millis(at)),
        signed_in: live > 0,
    })
    .collect();
    let (pin_failures, locked_until) = sqlx::query_as::<_, (i64, Option<i64>)>(
        "SELECT pin_failures, pin_locked_until FROM residents WHERE id = $1",
    )
    .bind(id)
    .fetch_one(db.reader())
    .await?;
    let pin_locked = locked_until
        .map(from_millis)
        .filter(|until| *until > now)
        .map(super::jst);
    let application = sqlx::query_as::<_, (i64, i64)>(
        "SELECT sets, withdrawn FROM sale_applications WHERE programme = $1 AND resident_id = $2",
    )
    .bind(&state.programme.id)
    .bind(id)
    .fetch_optional(db.reader())
    .await?
    .map(|(sets, withdrawn)| {
        if withdrawn != 0 {
            format!("{sets}セット（取り下げ）")
        } else {
            format!("{sets}セット")
        }
    });
    let orders = sqlx::query_as::<_, (i64, String, i64, String)>(
        "SELECT id, channel, sets, status FROM sale_orders
         WHERE programme = $1 AND resident_id = $2 ORDER BY id",
    )
    .bind(&state.programme.id)
    .bind(id)
    .fetch_all(db.reader())
    .await?
    .into_iter()
    .map(|(order, channel, sets, status)| {
        let channel = if channel == "lottery" {
            "抽選"
        } else {
            "追加販売"
        };
        let status = match status.as_str() {
            "paid" => "購入済み",
            "due" => "支払い待ち",
            _ => "期限切れ",
        };
        format!("注文{order}: {channel} {sets}セット {status}")
    })
    .collect();
    let flash = (done.as_deref() == Some("unlocked")).then_some("PINのロックを解除しました。");
    page(&ResidentPage {
        chrome: Chrome::new(&staff, &format!("住民 {id}"), "residents").with_flash(flash),
        id,
        profile,
        purses,
        history,
        devices,
        pin_locked,
        pin_failures,
        application,
        orders,
    })
}

#[derive(Deserialize)]
pub struct UnlockForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

impl CsrfField for UnlockForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn unlock(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Change { staff, form }: Change<UnlockForm>,
) -> PageResult {
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::invalid_field(
            "reason",
            "解除の理由（本人確認の方法など）を200文字以内で入力してください。",
        )
        .into());
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let before = sqlx::query_as::<_, (i64, Option<i64>)>(
        "SELECT pin_failures, pin_locked_until FROM residents WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(ApiError::not_found)?;
    sqlx::query("UPDATE residents SET pin_failures = 0, pin_locked_until = NULL WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let action = staff
        .audit("resident.pin_unlock")
        .target(format!("resident:{id}"))
        .detail(serde_json::json!({
            "reason": reason,
            "failures_before": before.0,
            "locked_until_before": before.1,
        }));
    crate::audit::record_in(&mut tx, &action, now)
        .await
        .map_err(ApiError::internal)?;
    tx.commit().await?;
    Ok(see_other(&format!("/console/residents/{id}?done=unlocked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_are_read_by_kind() {
        assert_eq!(Search::parse("id", " 12 "), Some(Search::Id(12)));
        assert_eq!(Search::parse("id", "x"), None);
        assert_eq!(Search::parse("kana", ""), None);
        assert_eq!(
            Search::parse("phone", "090-0000-0001"),
            Some(Search::Phone("090-0000-0001".into()))
        );
        assert_eq!(
            Search::parse("name", "みどり"),
            Some(Search::Name("みどり".into()))
        );
    }
}
