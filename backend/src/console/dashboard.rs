//! The dashboard: today and this month (JST) at a glance.

use super::{Chrome, PageResult, Staff, page, yen};
use crate::clock::to_millis;
use crate::db::{Db, sum};
use crate::http::AppState;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chiiki_core::time::{jst_date, jst_day_start};
use chrono::{DateTime, Datelike, Duration, Utc};
use sqlx::AssertSqlSafe;

pub fn routes() -> Router<AppState> {
    Router::new().route("/console/dashboard", get(show))
}

/// Figures over one span of time, `[from, to)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    pub residents: i64,
    pub devices: i64,
    pub active_residents: i64,
    pub payments: i64,
    pub paid: i64,
}

/// Figures that are a state rather than a span.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub residents: i64,
    pub devices: i64,
    pub approved_stores: i64,
    pub pending_stores: i64,
    pub sets_sold: i64,
    pub balances: i64,
}

pub async fn span(db: &Db, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Span, sqlx::Error> {
    let (from, to) = (to_millis(from), to_millis(to));
    let count = |sql: &'static str| {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(from)
            .bind(to)
            .fetch_one(db.reader())
    };
    let residents =
        count("SELECT COUNT(*) FROM residents WHERE created_at >= $1 AND created_at < $2").await?;
    let devices = count(
        "SELECT COUNT(*) FROM devices d JOIN credentials c ON c.id = d.credential_id
         WHERE c.principal_kind = 'resident' AND d.created_at >= $1 AND d.created_at < $2",
    )
    .await?;
    let active_residents = count(
        "SELECT COUNT(DISTINCT resident_id) FROM operations
         WHERE kind = 'payment' AND created_at >= $1 AND created_at < $2",
    )
    .await?;
    let (payments, paid) = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(format!(
        "SELECT COUNT(*), {} FROM operations
         WHERE kind = 'payment' AND created_at >= $1 AND created_at < $2",
        sum("amount - refunded")
    )))
    .bind(from)
    .bind(to)
    .fetch_one(db.reader())
    .await?;
    Ok(Span {
        residents,
        devices,
        active_residents,
        payments,
        paid,
    })
}

pub async fn totals(db: &Db) -> Result<Totals, sqlx::Error> {
    let one = |sql: String| async move {
        sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
            .fetch_one(db.reader())
            .await
    };
    Ok(Totals {
        residents: one("SELECT COUNT(*) FROM residents".into()).await?,
        devices: one("SELECT COUNT(*) FROM devices d JOIN credentials c ON c.id = d.credential_id
                      WHERE c.principal_kind = 'resident'"
            .into())
        .await?,
        approved_stores: one("SELECT COUNT(*) FROM stores WHERE status = 'approved'".into()).await?,
        pending_stores: one("SELECT COUNT(*) FROM stores WHERE status = 'pending'".into()).await?,
        sets_sold: one(format!(
            "SELECT {} FROM sale_orders WHERE status = 'paid'",
            sum("sets")
        ))
        .await?,
        balances: one(format!(
            "SELECT {} FROM accounts WHERE kind IN ('resident_premium', 'resident_charged', 'resident_points')",
            sum("balance")
        ))
        .await?,
    })
}

/// UTC instants `[from, to)`.
pub type Window = (DateTime<Utc>, DateTime<Utc>);

/// The JST day and month containing `now`, as UTC windows.
pub fn today_and_month(now: DateTime<Utc>) -> (Window, Window) {
    let today = jst_date(now);
    let day = (
        jst_day_start(today),
        jst_day_start(today) + Duration::days(1),
    );
    let first = today.with_day(1).unwrap_or(today);
    let next = if first.month() == 12 {
        first
            .with_year(first.year() + 1)
            .and_then(|d| d.with_month(1))
    } else {
        first.with_month(first.month() + 1)
    }
    .unwrap_or(first);
    (day, (jst_day_start(first), jst_day_start(next)))
}

pub struct Card {
    pub label: &'static str,
    pub today: String,
    pub month: String,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    date: String,
    cards: Vec<Card>,
    totals: Vec<(&'static str, String)>,
}

async fn show(State(state): State<AppState>, staff: Staff) -> PageResult {
    let now = state.clock.now();
    let ((d0, d1), (m0, m1)) = today_and_month(now);
    let today = span(&state.db, d0, d1).await?;
    let month = span(&state.db, m0, m1).await?;
    let totals = totals(&state.db).await?;
    let n = |v: i64| format!("{v}");
    let cards = vec![
        Card {
            label: "登録した住民",
            today: n(today.residents),
            month: n(month.residents),
        },
        Card {
            label: "アプリの登録端末",
            today: n(today.devices),
            month: n(month.devices),
        },
        Card {
            label: "利用した住民",
            today: n(today.active_residents),
            month: n(month.active_residents),
        },
        Card {
            label: "決済の件数",
            today: n(today.payments),
            month: n(month.payments),
        },
        Card {
            label: "決済の金額（返金を除く）",
            today: yen(today.paid),
            month: yen(month.paid),
        },
    ];
    let totals = vec![
        ("登録住民（累計）", n(totals.residents)),
        ("アプリの登録端末（累計）", n(totals.devices)),
        ("承認済みの加盟店", n(totals.approved_stores)),
        ("審査待ちの加盟店", n(totals.pending_stores)),
        ("販売済みのセット", n(totals.sets_sold)),
        ("住民の残高の合計", yen(totals.balances)),
    ];
    page(&DashboardPage {
        chrome: Chrome::new(&staff, "概況", "dashboard"),
        date: chiiki_core::time::format_jst_date(now),
        cards,
        totals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_day_and_month_are_jst() {
        // 2024-12-31 20:00 UTC is 2025-01-01 05:00 JST.
        let now = Utc.with_ymd_and_hms(2024, 12, 31, 20, 0, 0).unwrap();
        let ((d0, d1), (m0, m1)) = today_and_month(now);
        assert_eq!(d0, Utc.with_ymd_and_hms(2024, 12, 31, 15, 0, 0).unwrap());
        assert_eq!(d1, Utc.with_ymd_and_hms(2025, 1, 1, 15, 0, 0).unwrap());
        assert_eq!(m0, d0);
        assert_eq!(m1, Utc.with_ymd_and_hms(2025, 1, 31, 15, 0, 0).unwrap());
    }
}
