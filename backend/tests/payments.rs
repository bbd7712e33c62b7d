//! Residents' payments in batches, without HTTP: what one transaction of many payments must
//! keep (the ledger's rules in arrival order, exactly once per key, PINs counted once), and
//! concurrent batches over the same residents (on PostgreSQL: several transactions at once).

mod common;

use chiiki_backend::auth::PinPolicy;
use chiiki_backend::db::Db;
use chiiki_backend::http::payment_batch::{self, Paid, PaymentJob, Rules};
use chiiki_backend::idempotency::IdempotencyKey;
use chiiki_backend::ledger::{self, LedgerError, PaymentChannel, PaymentInput};
use chiiki_backend::programme::Programme;
use chiiki_core::Yen;
use chiiki_core::protocol::StoreStatus;
use common::*;

fn job(resident_id: i64, store_id: i64, amount: i64, key: &str, pin: &str) -> PaymentJob {
    let body = serde_json::json!({ "store_id": store_id, "amount": amount });
    let scope = format!("resident:{resident_id}");
    PaymentJob {
        key: IdempotencyKey::new(&scope, Some(key), "POST /api/v1/payments", &body)
            .expect("a valid key"),
        resident_id,
        store_id,
        amount: Yen(amount),
        use_points: false,
        pin: pin.to_string(),
    }
}

/// One committed transaction of `jobs`: each answer as (status, error code or "").
async fn run(db: &Db, programme: &Programme, jobs: &[PaymentJob]) -> Vec<(u16, String)> {
    let rules = Rules {
        programme,
        pin_pepper: db.vault().pin_pepper(),
        pin_policy: PinPolicy::default(),
        now: in_usage(),
    };
    let mut tx = db.begin().await.expect("begin");
    let answers = payment_batch::apply(&mut tx, jobs, &rules)
        .await
        .expect("the batch's transaction holds");
    tx.commit().await.expect("commit");
    answers.into_iter().map(summary).collect()
}

fn summary(answer: Result<Paid, chiiki_backend::http::error::ApiError>) -> (u16, String) {
    match answer {
        Ok(paid) => {
            let body: serde_json::Value =
                serde_json::from_str(&paid.response.body).expect("a JSON answer");
            let code = body["error"].as_str().unwrap_or_default().to_string();
            (paid.response.status, code)
        }
        Err(e) => (
            e.status.as_u16(),
            serde_json::to_value(e.code)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string(),
        ),
    }
}

async fn payments_made(db: &Db) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM operations WHERE kind = 'payment'")
        .fetch_one(db.reader())
        .await
        .unwrap()
}

async fn assert_invariants(db: &Db) {
    let problems = ledger::check_invariants(db.reader()).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_sees_each_payment_after_the_ones_before_it() {
    let t = test_db().await;
    let db = &t.db;
    let programme = Programme::midori_2024().unwrap();
    let store = db_store(db).await;
    let closed = db_store(db).await;
    chiiki_backend::stores::transition(db, closed, StoreStatus::Suspended, in_usage())
        .await
        .unwrap();
    let alice = db_resident(db, "09011110001").await;
    let bob = db_resident(db, "09011110002").await;
    db_charge(db, alice, 1000).await;
    db_charge(db, bob, 1000).await;
    let input = |resident_id, store_id, amount| PaymentInput {
        resident_id,
        store_id,
        amount: Yen(amount),
        use_points: false,
        programme: &programme,
        channel: PaymentChannel::ResidentApp,
    };
    let payments = [
        input(alice, store, 600),
        input(alice, store, 600),
        input(bob, closed, 100),
        input(alice, store, 400),
        input(bob, store, 0),
        input(bob, 999_999, 100),
        input(bob, store, 250),
    ];
    let mut tx = db.begin().await.unwrap();
    let results = ledger::pay_many(&mut tx, &payments, in_usage())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let balances: Vec<Option<i64>> = results
        .iter()
        .map(|r| r.as_ref().ok().map(|receipt| receipt.balance_after.get()))
        .collect();
    assert_eq!(
        balances,
        [Some(400), None, None, Some(0), None, None, Some(750)]
    );
    assert!(matches!(
        results[1],
        Err(LedgerError::InsufficientBalance {
            available: Yen(400),
            requested: Yen(600)
        })
    ));
    assert!(matches!(results[2], Err(LedgerError::StoreNotAccepting)));
    assert!(matches!(results[4], Err(LedgerError::AmountNotPositive)));
    assert!(matches!(results[5], Err(LedgerError::UnknownStore)));
    let ids: Vec<i64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|receipt| receipt.payment_id))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "payment ids follow arrival order: {ids:?}"
    );
    // Refused payments wrote nothing; the store holds exactly what was accepted.
    assert_eq!(payments_made(db).await, 3);
    assert_eq!(
        ledger::store_balance(db.reader(), store).await.unwrap(),
        Yen(1250)
    );
    assert_invariants(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_twice_in_one_batch_pays_once_and_another_body_under_it_conflicts() {
    let t = test_db().await;
    let db = &t.db;
    let programme = Programme::midori_2024().unwrap();
    let store = db_store(db).await;
    let alice = db_resident(db, "09011110003").await;
    db_charge(db, alice, 1000).await;
    let first = job(alice, store, 300, "k1", "1234");
    let changed = job(alice, store, 500, "k1", "1234");
    let answers = run(db, &programme, &[first.clone(), first.clone(), changed]).await;
    assert_eq!(
        answers,
        [
            (201, String::new()),
            (201, String::new()),
            (409, "idempotency_conflict".to_string())
        ]
    );
    // A later retry replays the stored receipt; still one payment.
    let again = run(db, &programme, &[first]).await;
    assert_eq!(again, [(201, String::new())]);
    assert_eq!(payments_made(db).await, 1);
    assert_invariants(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_pin_is_counted_once_however_often_its_request_is_retried() {
    let t = test_db().await;
    let db = &t.db;
    let programme = Programme::midori_2024().unwrap();
    let store = db_store(db).await;
    let alice = db_resident(db, "09011110004").await;
    db_charge(db, alice, 1000).await;
    let wrong: Vec<PaymentJob> = (0..4)
        .map(|n| job(alice, store, 100, &format!("wrong-{n}"), "0000"))
        .collect();
    // Four wrong PINs, each sent three times (twice in one batch, then again).
    for attempt in wrong.iter() {
        let answers = run(db, &programme, &[attempt.clone(), attempt.clone()]).await;
        assert!(answers.iter().all(|a| a.1 == "wrong_pin"), "{answers:?}");
        let again = run(db, &programme, std::slice::from_ref(attempt)).await;
        assert_eq!(again[0].1, "wrong_pin");
    }
    // Not locked yet: the right PIN pays, and resets the count.
    let right = job(alice, store, 100, "right-1", "1234");
    assert_eq!(run(db, &programme, &[right]).await, [(201, String::new())]);
    // Five new wrong PINs in one batch lock payments at the fifth; a right PIN after it in the
    // same batch is refused by the lock.
    let mut batch: Vec<PaymentJob> = (0..5)
        .map(|n| job(alice, store, 100, &format!("again-{n}"), "0000"))
        .collect();
    batch.push(job(alice, store, 100, "right-2", "1234"));
    let codes: Vec<String> = run(db, &programme, &batch)
        .await
        .into_iter()
        .map(|a| a.1)
        .collect();
    assert_eq!(
        codes,
        [
            "wrong_pin",
            "wrong_pin",
            "wrong_pin",
            "wrong_pin",
            "pin_locked",
            "pin_locked"
        ]
    );
    // A retry of a request from before the lock answers what it answered then.
    let replay = run(db, &programme, &wrong[..1]).await;
    assert_eq!(replay, [(422, "wrong_pin".to_string())]);
    assert_eq!(payments_made(db).await, 1);
    assert_invariants(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_batches_over_the_same_residents_never_overdraw() {
    let t = test_db().await;
    let db = t.db.clone();
    let programme = std::sync::Arc::new(Programme::midori_2024().unwrap());
    let store = db_store(&db).await;
    let mut residents = Vec::new();
    for i in 0..6 {
        let id = db_resident(&db, &format!("0901112{i:04}")).await;
        db_charge(&db, id, 1000).await;
        residents.push(id);
    }
    // Eight batches at once, each over every resident in its own order: ¥100 each, 8 × 2
    // payments per resident, of which the ¥1,000 covers 10.
    let mut tasks = Vec::new();
    for b in 0..8usize {
        let (db, programme, residents) = (db.clone(), programme.clone(), residents.clone());
        tasks.push(tokio::spawn(async move {
            let mut jobs = Vec::new();
            for k in 0..12usize {
                let resident = residents[(b + k * 5) % residents.len()];
                jobs.push(job(resident, store, 100, &format!("b{b}-{k}"), "1234"));
            }
            run(&db, &programme, &jobs).await
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        for (status, code) in task.await.unwrap() {
            match status {
                201 => accepted += 1,
                422 => assert_eq!(code, "insufficient_balance"),
                other => panic!("answered {other} {code}"),
            }
        }
    }
    assert_eq!(accepted, 6 * 10, "on {}", engine_name(&db));
    assert_eq!(
        ledger::store_balance(db.reader(), store).await.unwrap(),
        Yen(6_000)
    );
    assert_invariants(&db).await;
}
