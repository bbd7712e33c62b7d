//! A resident's participation: the event's rules (open now, once per resident or per day,
//! capacity) checked inside the transaction that awards the points, so that two scans at the
//! same moment cannot both pass. Also the resident's points summary and the expiry job.

use super::events::{self, StoredEvent};
use super::{PointsError, PointsResult, PointsRules};
use crate::clock::{from_millis, to_millis};
use crate::db::{Db, Tx};
use crate::ledger::{self, ExpiredBatch};
use chiiki_core::Yen;
use chiiki_core::protocol::{
    PointsActivity, PointsClaimReceipt, PointsFrequency, PointsLot, PointsSummary,
};
use chiiki_core::time::{jst_date, jst_day_start};
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use sqlx::AnyPool;

/// The claim's day key: the JST date as YYYYMMDD for daily events, 0 for once-only ones.
pub fn day_key(frequency: PointsFrequency, now: DateTime<Utc>) -> i64 {
    match frequency {
        PointsFrequency::Once => 0,
        PointsFrequency::Daily => {
            let d = jst_date(now);
            i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
        }
    }
}

/// Points earned on JST day D lapse at midnight JST after day D + `expiry_days`.
pub fn expires_at(rules: &PointsRules, now: DateTime<Utc>) -> DateTime<Utc> {
    let last_day = jst_date(now)
        .checked_add_days(Days::new(u64::from(rules.expiry_days) + 1))
        .unwrap_or(NaiveDate::MAX);
    jst_day_start(last_day)
}

/// Is the event open at `now`?
pub fn check_open(event: &StoredEvent, now: DateTime<Utc>) -> PointsResult<()> {
    if now < event.spec.starts_at {
        return Err(PointsError::NotStarted {
            starts_at: event.spec.starts_at,
        });
    }
    if now >= event.spec.ends_at {
        return Err(PointsError::Expired);
    }
    Ok(())
}

/// Awards `event_id`'s points to the resident, or refuses. The code has been checked already
/// ([`super::codes::check`]).
pub async fn claim(
    tx: &mut Tx,
    programme_id: &str,
    rules: &PointsRules,
    resident_id: i64,
    event_id: i64,
    now: DateTime<Utc>,
) -> PointsResult<PointsClaimReceipt> {
    let event = events::get(&mut **tx, programme_id, event_id).await?;
    check_open(&event, now)?;
    let daily = event.spec.frequency == PointsFrequency::Daily;
    let day = day_key(event.spec.frequency, now);
    let claimed = sqlx::query_scalar::<_, i64>(
        "SELECT id FROM points_claims WHERE event_id = $1 AND resident_id = $2 AND day = $3",
    )
    .bind(event.id)
    .bind(resident_id)
    .bind(day)
    .fetch_optional(&mut **tx)
    .await?;
    if claimed.is_some() {
        return Err(PointsError::AlreadyClaimed { daily });
    }
    take_place(tx, &event, day).await?;
    let expires = expires_at(rules, now);
    let detail = serde_json::json!({ "event_id": event.id, "event": event.spec.name, "day": day });
    let operation = ledger::award_points(
        tx,
        resident_id,
        event.spec.points,
        expires,
        &format!("resident:{resident_id}"),
        detail,
        now,
    )
    .await?;
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO points_claims
             (event_id, resident_id, day, points, operation_id, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(event.id)
    .bind(resident_id)
    .bind(day)
    .bind(event.spec.points.get())
    .bind(operation)
    .bind(to_millis(expires))
    .bind(to_millis(now))
    .fetch_one(&mut **tx)
    .await;
    let claim_id = match inserted {
        Ok(id) => id,
        // Another scan of the same resident won the race (PostgreSQL); the unique key is the
        // rule itself.
        Err(e) if crate::db::is_unique_violation(&e) => {
            return Err(PointsError::AlreadyClaimed { daily });
        }
        Err(e) => return Err(e.into()),
    };
    let balance = points_balance(&mut **tx, resident_id, now).await?;
    Ok(PointsClaimReceipt {
        claim_id,
        event_id: event.id,
        event_name: event.spec.name.clone(),
        place: event.spec.place.clone(),
        points: event.spec.points,
        expires_at: expires,
        balance,
        created_at: now,
        message: format!(
            "「{}」に参加して{}ポイントを受け取りました。",
            event.spec.name,
            event.spec.points.get()
        ),
    })
}

/// Takes one place of the event (on the day): a conditional update, so concurrent claims
/// can never exceed the capacity.
async fn take_place(tx: &mut Tx, event: &StoredEvent, day: i64) -> PointsResult<()> {
    sqlx::query(
        "INSERT INTO points_attendance (event_id, day, claims) VALUES ($1, $2, 0)
         ON CONFLICT (event_id, day) DO NOTHING",
    )
    .bind(event.id)
    .bind(day)
    .execute(&mut **tx)
    .await?;
    let taken = match event.spec.capacity {
        Some(capacity) => sqlx::query(
            "UPDATE points_attendance SET claims = claims + 1
             WHERE event_id = $1 AND day = $2 AND claims < $3",
        )
        .bind(event.id)
        .bind(day)
        .bind(capacity),
        None => sqlx::query(
            "UPDATE points_attendance SET claims = claims + 1 WHERE event_id = $1 AND day = $2",
        )
        .bind(event.id)
        .bind(day),
    }
    .execute(&mut **tx)
    .await?;
    if taken.rows_affected() == 1 {
        Ok(())
    } else {
        Err(PointsError::Full)
    }
}

/// Unexpired points purses with something in them: (balance, expires at), earliest first.
async fn lots<'e, E>(exec: E, resident_id: i64, now: DateTime<Utc>) -> PointsResult<Vec<PointsLot>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = sqlx::query_as::<_, (i64, i64)>(
        "SELECT balance, expires_at FROM accounts
         WHERE kind = 'resident_points' AND owner_id = $1 AND balance > 0
           AND expires_at IS NOT NULL AND expires_at > $2
         ORDER BY expires_at",
    )
    .bind(resident_id)
    .bind(to_millis(now))
    .fetch_all(exec)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(balance, expires)| PointsLot {
            balance: Yen(balance),
            expires_at: from_millis(expires),
        })
        .collect())
}

async fn points_balance<'e, E>(exec: E, resident_id: i64, now: DateTime<Utc>) -> PointsResult<Yen>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let total = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM accounts
         WHERE kind = 'resident_points' AND owner_id = $1
           AND (expires_at IS NULL OR expires_at > $2)",
        crate::db::sum("balance")
    )))
    .bind(resident_id)
    .bind(to_millis(now))
    .fetch_one(exec)
    .await?;
    Ok(Yen(total))
}

/// What the app shows: points spendable now, when they lapse, and the latest activities.
pub async fn summary(
    pool: &AnyPool,
    resident_id: i64,
    now: DateTime<Utc>,
) -> PointsResult<PointsSummary> {
    let rows = sqlx::query_as::<_, (i64, i64, String, String, i64, i64, i64)>(
        "SELECT c.id, c.event_id, e.name, e.place, c.points, c.created_at, c.expires_at
         FROM points_claims c JOIN points_events e ON e.id = c.event_id
         WHERE c.resident_id = $1 ORDER BY c.id DESC LIMIT 100",
    )
    .bind(resident_id)
    .fetch_all(pool)
    .await?;
    Ok(PointsSummary {
        balance: points_balance(pool, resident_id, now).await?,
        lots: lots(pool, resident_id, now).await?,
        activities: rows
            .into_iter()
            .map(
                |(claim_id, event_id, event_name, place, points, earned, expires)| PointsActivity {
                    claim_id,
                    event_id,
                    event_name,
                    place,
                    points: Yen(points),
                    earned_at: from_millis(earned),
                    expires_at: from_millis(expires),
                },
            )
            .collect(),
        as_of: now,
    })
}

/// The expiry job: moves every lapsed points purse's balance to the expired account, in
/// batches of `batch` per transaction. Idempotent: a second run moves nothing.
pub async fn expire(
    db: &Db,
    actor: &str,
    batch: i64,
    now: DateTime<Utc>,
) -> PointsResult<ExpiredBatch> {
    let batch = batch.max(1);
    let mut total = ExpiredBatch::default();
    loop {
        let mut tx = db.begin().await?;
        let done = ledger::expire_points(&mut tx, actor, batch, now).await?;
        tx.commit().await?;
        total.purses += done.purses;
        total.amount = Yen(total.amount.get() + done.amount.get());
        if done.purses < batch {
            break;
        }
    }
    tracing::info!(
        target: crate::ops::logs::OPERATION,
        actor,
        purses = total.purses,
        points = total.amount.get(),
        "points expired"
    );
    Ok(total)
}

/// Purses moved per transaction by the daily job: short transactions, so claims and payments
/// wait little behind it.
pub const DAILY_BATCH: i64 = 500;

/// The daily job: once at start, then every day at `hour` JST, moves lapsed points to the
/// expired account. Points lapse at midnight JST, so hour 0 moves them as they lapse; a missed
/// run is made up by the next (the job is idempotent). Runs until the task is dropped.
pub async fn run_daily(db: Db, clock: std::sync::Arc<dyn crate::clock::Clock>, hour: u32) {
    loop {
        if let Err(e) = expire(&db, "job:points-expiry", DAILY_BATCH, clock.now()).await {
            tracing::error!(target: crate::ops::logs::FAILURE, error = %e, "daily points expiry failed");
        }
        let next = crate::sale::expiry::next_daily_run(clock.now(), hour);
        let wait = (next - clock.now()).max(chrono::Duration::seconds(1));
        tokio::time::sleep(
            wait.to_std()
                .unwrap_or(std::time::Duration::from_secs(3600)),
        )
        .await;
    }
}

/// Every refused claim is logged with its reason (farming shows up here).
pub fn log_refusal(resident_id: i64, event_id: Option<i64>, error: &PointsError) {
    match error {
        PointsError::Ledger(_) | PointsError::Db(_) | PointsError::KeyMissing => {
            tracing::error!(target: crate::ops::logs::FAILURE, resident_id, event_id, error = %error, "points claim failed");
        }
        _ => {
            tracing::warn!(
                target: crate::ops::logs::OPERATION,
                resident_id,
                event_id,
                reason = error.reason(),
                error = %error,
                "points claim refused"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn daily_claims_are_keyed_by_the_jst_day() {
        // 2024-12-01 23:30 JST is 14:30 UTC; 00:30 JST on the 2nd is 15:30 UTC on the 1st.
        let late = Utc.with_ymd_and_hms(2024, 12, 1, 14, 30, 0).unwrap();
        let next = Utc.with_ymd_and_hms(2024, 12, 1, 15, 30, 0).unwrap();
        assert_eq!(day_key(PointsFrequency::Daily, late), 20241201);
        assert_eq!(day_key(PointsFrequency::Daily, next), 20241202);
        assert_eq!(day_key(PointsFrequency::Once, next), 0);
    }

    #[test]
    fn points_lapse_at_the_end_of_the_day_a_year_later() {
        let rules = PointsRules::default();
        let earned = Utc.with_ymd_and_hms(2024, 12, 1, 3, 0, 0).unwrap();
        let lapse = expires_at(&rules, earned);
        // Spendable through 2025-12-01 JST; gone at midnight JST after it.
        assert_eq!(lapse, Utc.with_ymd_and_hms(2025, 12, 1, 15, 0, 0).unwrap());
    }
}
