//! Backups taken while payments keep coming: every payment acknowledged before the backup
//! started is in it, and the restored ledger balances. On SQLite and PostgreSQL.

mod common;

use chiiki_backend::ledger;
use chiiki_backend::ops::backup;
use chiiki_core::protocol::*;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Mutex;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_load_restores_every_acknowledged_payment() {
    let app = Arc::new(spawn_app().await);
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let mut people = Vec::new();
    for i in 0..4 {
        let (id, token) = app.resident(&format!("0903000000{i}")).await;
        app.charge(&admin, id, 50_000).await;
        people.push(token);
    }
    let acknowledged = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for (n, token) in people.into_iter().enumerate() {
        let (app, acknowledged, stop) = (app.clone(), acknowledged.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) && i < 400 {
                let res = app
                    .pay(&token, &format!("load-{n}-{i}"), store.id, 10, "1234")
                    .await;
                if res.status() == 201 {
                    let receipt: PaymentReceipt = res.json().await.unwrap();
                    acknowledged.lock().await.push(receipt.payment_id);
                }
                i += 1;
            }
        }));
    }
    while acknowledged.lock().await.len() < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before: Vec<i64> = acknowledged.lock().await.clone();
    let dir = tempfile::tempdir().unwrap();
    let taken = backup::backup(&app.db, &app.url, dir.path(), 7, chrono::Utc::now())
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    assert!(acknowledged.lock().await.len() > before.len() || before.len() >= 40);

    let target = fresh_database().await;
    backup::restore(&taken.path, &target.url).await.unwrap();
    let restored = chiiki_backend::db::Db::connect(&target.url).await.unwrap();
    restored.migrate().await.unwrap();
    for id in &before {
        let found: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM operations WHERE id = $1 AND kind = 'payment'",
        )
        .bind(id)
        .fetch_one(restored.reader())
        .await
        .unwrap();
        assert_eq!(found, 1, "payment {id} was acknowledged before the backup");
    }
    let problems = ledger::check_invariants(restored.reader()).await.unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    app.check_ledger().await;
}
