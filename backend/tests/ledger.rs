//! The ledger's invariants under random operation sequences and under concurrency, on a real
//! database (SQLite, or PostgreSQL when CHIIKI_TEST_POSTGRES is set).

mod common;

use chiiki_backend::db::Db;
use chiiki_backend::ledger::{self, LedgerError, PaymentChannel, PaymentInput, RefundInput};
use chiiki_backend::programme::{MIDORI_2024_TOML, Programme};
use chiiki_core::Yen;
use chiiki_core::protocol::*;
use common::*;
use proptest::prelude::*;
use std::sync::Arc;

async fn pay(
    db: &Db,
    p: &Programme,
    resident_id: i64,
    store_id: i64,
    amount: i64,
    use_points: bool,
) -> Result<PaymentReceipt, LedgerError> {
    let mut tx = db.begin().await?;
    let input = PaymentInput {
        resident_id,
        store_id,
        amount: Yen(amount),
        use_points,
        programme: p,
        channel: PaymentChannel::ResidentApp,
    };
    let receipt = ledger::pay(&mut tx, input, in_usage()).await?;
    tx.commit().await?;
    Ok(receipt)
}

async fn assert_invariants(db: &Db) {
    let problems = ledger::check_invariants(db.reader()).await.unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn premium_purses_of_an_ended_issue_are_never_spent() {
    let t = test_db().await;
    let db = &t.db;
    let current = Programme::midori_2024().unwrap();
    // An older issue whose usage ended a month before `in_usage()`.
    let old = Programme::parse(&MIDORI_2024_TOML.replace("midori-2024", "midori-2023"))
        .unwrap()
        .shifted_by_days(-120);
    assert!(old.premium_expires_at() < in_usage());
    let r = db_resident(db, "09010000001").await;
    let s = db_store(db).await;
    let mut tx = db.begin().await.unwrap();
    let before = old.usage.start();
    ledger::issue_sets(
        &mut tx,
        &old,
        r,
        1,
        "staff:1",
        serde_json::json!({}),
        before,
    )
    .await
    .unwrap();
    ledger::issue_sets(
        &mut tx,
        &current,
        r,
        1,
        "staff:1",
        serde_json::json!({}),
        in_usage(),
    )
    .await
    .unwrap();
    ledger::award_points(
        &mut tx,
        r,
        Yen(200),
        in_usage() + chrono::Duration::days(365),
        "staff:1",
        serde_json::json!({}),
        in_usage(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    db_charge(db, r, 1000).await;

    let receipt = pay(db, &current, r, s, 7000, true).await.unwrap();
    let legs: Vec<_> = receipt
        .legs
        .iter()
        .map(|l| (l.purse, l.issue.clone(), l.amount))
        .collect();
    assert_eq!(
        legs,
        vec![
            (PurseKind::Points, None, Yen(200)),
            (PurseKind::Premium, Some("midori-2024".into()), Yen(6500)),
            (PurseKind::Charged, None, Yen(300)),
        ]
    );
    assert_eq!(receipt.balance_after, Yen(700));
    let err = pay(db, &current, r, s, 701, false).await.unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::InsufficientBalance {
                available: Yen(700),
                ..
            }
        ),
        "{err:?}"
    );
    let balance = ledger::balance(db.reader(), r, in_usage()).await.unwrap();
    let old_purse = balance
        .purses
        .iter()
        .find(|p| p.issue.as_deref() == Some("midori-2023"))
        .unwrap();
    assert_eq!(old_purse.balance, Yen(6500), "the ended issue is untouched");
    assert_eq!(balance.total, Yen(700));
    assert_invariants(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refunds_return_value_to_the_purses_it_came_from_latest_first() {
    let t = test_db().await;
    let db = &t.db;
    let p = Programme::midori_2024().unwrap();
    let r = db_resident(db, "09010000002").await;
    let s = db_store(db).await;
    let mut tx = db.begin().await.unwrap();
    ledger::issue_sets(
        &mut tx,
        &p,
        r,
        1,
        "staff:1",
        serde_json::json!({}),
        in_usage(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    db_charge(db, r, 1000).await;
    let receipt = pay(db, &p, r, s, 7000, false).await.unwrap();
    let refund = |amount: i64| RefundInput {
        payment_id: receipt.payment_id,
        amount: Yen(amount),
        reason: "返品",
        actor: "store_staff:1",
        only_store: Some(s),
    };
    let mut tx = db.begin().await.unwrap();
    let first = ledger::refund(&mut tx, refund(800), in_usage())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // ¥500 came from the charged purse last, so it goes back first; the rest to premium.
    let legs: Vec<_> = first.legs.iter().map(|l| (l.purse, l.amount)).collect();
    assert_eq!(
        legs,
        vec![
            (PurseKind::Charged, Yen(500)),
            (PurseKind::Premium, Yen(300))
        ]
    );
    let mut tx = db.begin().await.unwrap();
    let err = ledger::refund(&mut tx, refund(6201), in_usage())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        LedgerError::RefundExceedsPayment {
            refundable: Yen(6200)
        }
    ));
    tx.rollback().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let other_store = RefundInput {
        only_store: Some(s + 1),
        ..refund(1)
    };
    assert!(matches!(
        ledger::refund(&mut tx, other_store, in_usage()).await,
        Err(LedgerError::UnknownPayment)
    ));
    tx.rollback().await.unwrap();
    // An operation that is not a payment (the resident's charge) is no payment to refund.
    let charge: i64 =
        sqlx::query_scalar("SELECT id FROM operations WHERE kind = 'charge' AND resident_id = $1")
            .bind(r)
            .fetch_one(db.reader())
            .await
            .unwrap();
    assert_eq!(
        ledger::find_payment(db.reader(), charge).await.unwrap(),
        None
    );
    let found = ledger::find_payment(db.reader(), receipt.payment_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.resident_id, found.store_id), (r, s));
    assert_eq!(found.amount, Yen(7000));
    let mut tx = db.begin().await.unwrap();
    let not_a_payment = RefundInput {
        payment_id: charge,
        only_store: None,
        ..refund(1)
    };
    assert!(matches!(
        ledger::refund(&mut tx, not_a_payment, in_usage()).await,
        Err(LedgerError::UnknownPayment)
    ));
    tx.rollback().await.unwrap();
    assert_eq!(
        ledger::store_balance(db.reader(), s).await.unwrap(),
        Yen(6200)
    );
    assert_invariants(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_invariants_check_finds_a_purse_out_of_step_with_its_legs() {
    let t = test_db().await;
    let db = &t.db;
    let p = Programme::midori_2024().unwrap();
    let r = db_resident(db, "09010000009").await;
    let s = db_store(db).await;
    db_charge(db, r, 1000).await;
    pay(db, &p, r, s, 300, false).await.unwrap();
    assert_invariants(db).await;
    let purse: i64 = sqlx::query_scalar(
        "SELECT id FROM accounts WHERE kind = 'resident_charged' AND owner_id = $1",
    )
    .bind(r)
    .fetch_one(db.reader())
    .await
    .unwrap();
    sqlx::query("UPDATE accounts SET balance = balance + 1 WHERE id = $1")
        .bind(purse)
        .execute(db.writer())
        .await
        .unwrap();
    assert_eq!(
        ledger::check_invariants(db.reader()).await.unwrap(),
        vec![format!(
            "purse {purse} caches 701 but its transfers sum to 700"
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transfers_cannot_be_changed_or_deleted() {
    let t = test_db().await;
    let db = &t.db;
    let r = db_resident(db, "09010000003").await;
    db_charge(db, r, 1000).await;
    let update = sqlx::query("UPDATE transfers SET amount = 1")
        .execute(db.writer())
        .await;
    assert!(update.is_err(), "UPDATE must be refused");
    let delete = sqlx::query("DELETE FROM transfers")
        .execute(db.writer())
        .await;
    assert!(delete.is_err(), "DELETE must be refused");
    assert_invariants(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn five_thousand_parallel_payments_to_one_store_all_land() {
    let t = test_db().await;
    let db = t.db.clone();
    let p = Arc::new(Programme::midori_2024().unwrap());
    let s = db_store(&db).await;
    const RESIDENTS: i64 = 500;
    const EACH: i64 = 10;
    let mut ids = Vec::new();
    for i in 0..RESIDENTS {
        let id = db_resident(&db, &format!("0802{i:07}")).await;
        db_charge(&db, id, 1000).await;
        ids.push(id);
    }
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for round in 0..EACH {
        for (n, &id) in ids.iter().enumerate() {
            let db = db.clone();
            let p = p.clone();
            let amount = 1 + (n as i64 + round) % 100;
            tasks.push(tokio::spawn(async move {
                pay(&db, &p, id, s, amount, false).await.map(|r| r.amount)
            }));
        }
    }
    let mut total = Yen(0);
    for task in tasks {
        total = Yen(total.get() + task.await.unwrap().expect("every payment succeeds").get());
    }
    eprintln!(
        "{} payments on {} in {:?}",
        RESIDENTS * EACH,
        engine_name(&db),
        started.elapsed()
    );
    assert_eq!(ledger::store_balance(db.reader(), s).await.unwrap(), total);
    // The store's row is never written by a payment: its balance is derived from transfers.
    let cached: i64 =
        sqlx::query_scalar("SELECT balance FROM accounts WHERE kind = 'store' AND owner_id = $1")
            .bind(s)
            .fetch_one(db.reader())
            .await
            .unwrap();
    assert_eq!(cached, 0);
    assert_invariants(&db).await;
}

#[derive(Debug, Clone)]
enum Op {
    Charge {
        resident: usize,
        amount: i64,
        key: u8,
    },
    Pay {
        resident: usize,
        amount: i64,
        use_points: bool,
        key: u8,
    },
    Refund {
        payment: usize,
        amount: i64,
        key: u8,
    },
    Points {
        resident: usize,
        amount: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1..3000i64, 0..6u8).prop_map(|(resident, amount, key)| Op::Charge {
            resident,
            amount,
            key
        }),
        (0..3usize, 1..4000i64, any::<bool>(), 0..12u8).prop_map(
            |(resident, amount, use_points, key)| Op::Pay {
                resident,
                amount,
                use_points,
                key
            }
        ),
        (0..8usize, 1..2000i64, 0..6u8).prop_map(|(payment, amount, key)| Op::Refund {
            payment,
            amount,
            key
        }),
        (0..3usize, 1..500i64).prop_map(|(resident, amount)| Op::Points { resident, amount }),
    ]
}

/// Drives the real server with a random sequence; repeats idempotency keys on purpose.
async fn run_sequence(ops: Vec<Op>) {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let mut people = Vec::new();
    for i in 0..3 {
        people.push(app.resident(&format!("0701000000{i}")).await);
    }
    let mut payments: Vec<i64> = Vec::new();
    let mut accepted_payment_keys = std::collections::BTreeSet::new();
    for op in ops {
        match op {
            Op::Charge {
                resident,
                amount,
                key,
            } => {
                let body = ChargeRequest {
                    resident_id: people[resident].0,
                    amount: Yen(amount),
                    method: ChargeMethod::Cash,
                    receipt_number: "R".into(),
                };
                let res = app
                    .post(
                        paths::ADMIN_CHARGES,
                        Some(&admin),
                        Some(&format!("c{key}")),
                        &body,
                    )
                    .await;
                assert!(
                    matches!(res.status().as_u16(), 201 | 409),
                    "{}",
                    res.status()
                );
            }
            Op::Pay {
                resident,
                amount,
                use_points,
                key,
            } => {
                let (_, token) = &people[resident];
                let body = PaymentRequest {
                    store_id: Some(store.id),
                    store_code: None,
                    amount: Yen(amount),
                    pin: "1234".into(),
                    use_points: Some(use_points),
                };
                let key = format!("p{key}");
                let res = app
                    .post(paths::PAYMENTS, Some(token), Some(&key), &body)
                    .await;
                match res.status().as_u16() {
                    201 => {
                        let receipt: PaymentReceipt = res.json().await.unwrap();
                        if accepted_payment_keys.insert((resident, key)) {
                            payments.push(receipt.payment_id);
                        }
                    }
                    409 | 422 => {}
                    other => panic!("payment answered {other}"),
                }
            }
            Op::Refund {
                payment,
                amount,
                key,
            } => {
                let Some(&id) = payments.get(payment % payments.len().max(1)) else {
                    continue;
                };
                let body = RefundRequest {
                    amount: Yen(amount),
                    reason: "r".into(),
                };
                let res = app
                    .post(
                        &paths::refunds(id),
                        Some(&admin),
                        Some(&format!("r{key}")),
                        &body,
                    )
                    .await;
                assert!(
                    matches!(res.status().as_u16(), 201 | 409 | 422),
                    "{}",
                    res.status()
                );
            }
            Op::Points { resident, amount } => {
                let mut tx = app.db.begin().await.unwrap();
                ledger::award_points(
                    &mut tx,
                    people[resident].0,
                    Yen(amount),
                    in_usage() + chrono::Duration::days(365),
                    "staff:1",
                    serde_json::json!({}),
                    in_usage(),
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }
        }
    }
    app.check_ledger().await;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM operations WHERE kind = 'payment'")
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(
        stored as usize,
        accepted_payment_keys.len(),
        "each idempotency key moved value at most once"
    );
    let keyed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT operation_id FROM idempotency_keys WHERE operation_id IS NOT NULL
         GROUP BY operation_id HAVING COUNT(*) > 1) t",
    )
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!(keyed, 0, "no operation belongs to two keys");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(12),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_operation_sequences_keep_the_ledger_sound(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run_sequence(ops));
    }
}
