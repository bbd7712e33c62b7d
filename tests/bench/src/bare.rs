//! The database's own ceiling for a bare payment transaction: debit one row, credit another,
//! insert one row, commit. Same engine settings as the server (SQLite: WAL, synchronous=FULL;
//! PostgreSQL: synchronous_commit on), same driver (sqlx Any), no HTTP, no PIN, no idempotency.

use crate::env::{Result, Rng};
use sqlx::any::AnyPoolOptions;
use std::time::{Duration, Instant};

const ACCOUNTS: i64 = 1000;

/// Committed transactions per second over `seconds` with `connections` connections.
pub async fn ceiling(url: &str, connections: u32, seconds: f64) -> Result<f64> {
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    let url = if sqlite && !url.contains("mode=") {
        format!("{url}?mode=rwc")
    } else {
        url.to_string()
    };
    let pool = AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(60))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = FULL",
                        "PRAGMA busy_timeout = 10000",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                }
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    let id = if sqlite {
        "INTEGER PRIMARY KEY AUTOINCREMENT"
    } else {
        "BIGSERIAL PRIMARY KEY"
    };
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bare_accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)",
    )
    .execute(&pool)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS bare_transfers (id {id}, debit BIGINT NOT NULL, credit BIGINT NOT NULL, amount BIGINT NOT NULL, created_at BIGINT NOT NULL)"
    )))
    .execute(&pool)
    .await?;
    let mut tx = pool.begin().await?;
    for a in 0..ACCOUNTS {
        sqlx::query(
            "INSERT INTO bare_accounts (id, balance) VALUES ($1, 0) ON CONFLICT (id) DO NOTHING",
        )
        .bind(a)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(u64::from(worker) + 1);
            let mut done = 0u64;
            while Instant::now() < deadline {
                let a = rng.below(ACCOUNTS as u64) as i64;
                let b = (a + 1 + rng.below(ACCOUNTS as u64 - 1) as i64) % ACCOUNTS;
                // Lower id first, so that concurrent transactions never deadlock.
                let (first, second, delta) = if a < b { (a, b, -1) } else { (b, a, 1) };
                let mut tx = pool.begin().await?;
                sqlx::query("UPDATE bare_accounts SET balance = balance + $1 WHERE id = $2")
                    .bind(delta)
                    .bind(first)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE bare_accounts SET balance = balance - $1 WHERE id = $2")
                    .bind(delta)
                    .bind(second)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO bare_transfers (debit, credit, amount, created_at) VALUES ($1, $2, 1, $3)",
                )
                .bind(a)
                .bind(b)
                .bind(chrono::Utc::now().timestamp_millis())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                done += 1;
            }
            Ok::<u64, sqlx::Error>(done)
        }));
    }
    let started = Instant::now();
    let mut total = 0u64;
    for t in tasks {
        total += t.await??;
    }
    let elapsed = started.elapsed().as_secs_f64().max(seconds);
    pool.close().await;
    Ok(total as f64 / elapsed)
}
