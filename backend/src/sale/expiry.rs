//! Expiry of unspent premium currency after the programme's usage window: what is left in
//! the issue's premium purses moves to the expired account, in batches, idempotently, with a
//! summary. Run by `chiiki sale expire`, the admin API, or the daily job `serve` can start.
//!
//! Payments never draw on an expired purse whether or not this has run (the ledger checks the
//! purse's expiry); this only makes the lapse visible in balances and reports. It must never
//! run before the usage window has ended.

use super::{SaleError, SaleResult};
use crate::clock::Clock;
use crate::db::Db;
use crate::ledger;
use crate::programme::Programme;
use chiiki_core::protocol::ExpirySummary;
use chiiki_core::time::{jst, jst_date};
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use std::sync::Arc;

/// Purses per transaction: short transactions keep SQLite's one writer free for payments.
const BATCH: i64 = 500;

/// Moves everything left in the programme's premium purses to its expired account.
pub async fn expire(
    db: &Db,
    programme: &Programme,
    actor: &str,
    now: DateTime<Utc>,
) -> SaleResult<ExpirySummary> {
    let expires_at = programme.premium_expires_at();
    if now < expires_at {
        return Err(SaleError::ExpiryTooEarly { expires_at });
    }
    let mut residents = 0i64;
    let mut amount = 0i64;
    loop {
        let mut tx = db.begin().await?;
        let batch = ledger::expire_issue(&mut tx, &programme.id, actor, BATCH, now).await?;
        tx.commit().await?;
        residents += batch.purses;
        amount += batch.amount.get();
        if batch.purses < BATCH {
            break;
        }
    }
    let total_lapsed = ledger::expired_total(db.writer(), &programme.id).await?;
    tracing::info!(issue = %programme.id, residents, amount, total = total_lapsed.get(), %actor, "premium currency expired");
    Ok(ExpirySummary {
        issue: programme.id.clone(),
        expired_at: expires_at,
        residents,
        amount: chiiki_core::Yen(amount),
        total_lapsed,
    })
}

/// The next daily run at `hour` o'clock JST strictly after `now`.
pub fn next_daily_run(now: DateTime<Utc>, hour: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(hour.min(23), 0, 0).unwrap_or(NaiveTime::MIN);
    let today = jst_date(now);
    let at = |day: chrono::NaiveDate| {
        jst()
            .from_local_datetime(&day.and_time(time))
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now)
    };
    let candidate = at(today);
    if candidate > now {
        candidate
    } else {
        at(today.succ_opt().unwrap_or(today))
    }
}

/// The daily job: once at start, then every day at `hour` JST, expires the programme's
/// premium currency once its usage window has ended. Runs until the task is dropped.
pub async fn run_daily(db: Db, programme: Arc<Programme>, clock: Arc<dyn Clock>, hour: u32) {
    loop {
        let now = clock.now();
        if now >= programme.premium_expires_at() {
            match expire(&db, &programme, "job:expiry", now).await {
                Ok(summary) => tracing::info!(
                    residents = summary.residents,
                    amount = summary.amount.get(),
                    "daily expiry run"
                ),
                Err(e) => tracing::error!(error = %e, "daily expiry run failed"),
            }
        } else {
            tracing::debug!(expires_at = %programme.premium_expires_at(), "daily expiry: nothing due yet");
        }
        let next = next_daily_run(clock.now(), hour);
        let wait = (next - clock.now()).max(Duration::seconds(1));
        tokio::time::sleep(
            wait.to_std()
                .unwrap_or(std::time::Duration::from_secs(3600)),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_run_is_at_the_hour_in_japan() {
        // 2025-03-01 02:30 JST → 03:00 JST the same day.
        let now = Utc.with_ymd_and_hms(2025, 2, 28, 17, 30, 0).unwrap();
        assert_eq!(
            next_daily_run(now, 3).to_rfc3339(),
            "2025-02-28T18:00:00+00:00"
        );
        // Exactly at the hour → the next day.
        let at = Utc.with_ymd_and_hms(2025, 2, 28, 18, 0, 0).unwrap();
        assert_eq!(
            next_daily_run(at, 3).to_rfc3339(),
            "2025-03-01T18:00:00+00:00"
        );
    }
}
