//! Lookups that must stay index searches as a programme grows (migration 0008), checked in
//! the planner's own words on the engine the tests use: SQLite's `EXPLAIN QUERY PLAN`, or
//! PostgreSQL's `EXPLAIN` with sequential scans priced out (on empty tables a scan is
//! otherwise cheaper, and the question here is whether an index exists to use).

mod common;

use chiiki_backend::db::{Db, Engine};
use common::*;
use sqlx::Row;

/// The plan of `sql`, one line per step. On PostgreSQL in a transaction that is rolled back
/// (dropped), so that the setting ends with it.
async fn plan(db: &Db, sql: &str) -> Vec<String> {
    let mut tx = db.begin().await.expect("a transaction");
    let (explain, column) = match db.engine {
        Engine::Sqlite => (format!("EXPLAIN QUERY PLAN {sql}"), "detail"),
        Engine::Postgres => {
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await
                .expect("set");
            (format!("EXPLAIN {sql}"), "QUERY PLAN")
        }
    };
    sqlx::query(sqlx::AssertSqlSafe(explain))
        .fetch_all(&mut *tx)
        .await
        .expect("explain")
        .iter()
        .map(|row| row.try_get::<String, _>(column).expect("a plan line"))
        .collect()
}

async fn assert_uses(db: &Db, sql: &str, index: &str) {
    let plan = plan(db, sql).await;
    assert!(
        plan.iter().any(|line| line.contains(index)),
        "{} should search {index}: {sql}\n{}",
        engine_name(db),
        plan.join("\n")
    );
}

#[tokio::test]
async fn owner_lookups_search_an_index() {
    let test = test_db().await;
    let db = &test.db;
    // The till: is the phone that showed this resident code still signed in?
    assert_uses(
        db,
        "SELECT COUNT(*) FROM sessions WHERE device_id = 7 AND revoked_at IS NULL
         AND expires_at > 0",
        "sessions_device",
    )
    .await;
    // The console: a resident's phones.
    assert_uses(
        db,
        "SELECT d.name FROM devices d JOIN credentials c ON c.id = d.credential_id
         WHERE c.principal_kind = 'resident' AND c.principal_id = 7",
        "credentials_principal",
    )
    .await;
    assert_uses(
        db,
        "SELECT name FROM devices WHERE credential_id = 7",
        "devices_credential",
    )
    .await;
}
