//! Residents' payments in batches, without HTTP: what one transaction of many payments must
//! keep (the ledger's rules in arrival order, exactly once per key, PINs counted once), and
//! concurrent batches, and refunds beside them, over the same residents (on PostgreSQL:
//! several transactions at once, which take the residents' rows first and so never deadlock).

mod common;

use chiiki_backend::auth::PinPolicy;
use chiiki_backend::db::Db;
use chiiki_backend::http::payment_batch::{self, Attempts, Paid, PaymentJob, Rules};
use chiiki_backend::idempotency::RequestKey;
use chiiki_backend::ledger::{self, AccountKind, LedgerError, PaymentChannel, PaymentInput};
use chiiki_backend::ops::limits::{KeyedLimiter, Rate};
use chiiki_backend::programme::Programme;
use chiiki_core::Yen;
use chiiki_core::protocol::StoreStatus;
use common::*;
use serde_json::json;

fn job(session: &str, store_id: i64, amount: i64, key: &str, pin: &str) -> PaymentJob {
    let body = serde_json::json!({ "store_id": store_id, "amount": amount });
    PaymentJob {
        session: session.to_string(),
        key: RequestKey::new(Some(key), "POST /api/v1/payments", &body).expect("a valid key"),
        store_id,
        amount: Yen(amount),
        use_points: false,
        pin: pin.to_string(),
    }
}

/// The server's rules for a batch, at a moment inside the usage window.
fn rules<'a>(db: &Db, programme: &'a Programme) -> Rules<'a> {
    Rules {
        programme,
        pin_pepper: db.vault().pin_pepper(),
        pin_policy: PinPolicy::default(),
        attempts: None,
        now: in_usage(),
    }
}

/// One committed transaction of `jobs`: each answer as (status, error code or "").
async fn run(db: &Db, programme: &Programme, jobs: &[PaymentJob]) -> Vec<(u16, String)> {
    run_under(db, &rules(db, programme), jobs).await
}

async fn run_under(db: &Db, rules: &Rules<'_>, jobs: &[PaymentJob]) -> Vec<(u16, String)> {
    let mut tx = db.begin().await.expect("begin");
    let answers = payment_batch::apply(&mut tx, jobs, rules)
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

/// Six residents with `charged` yen each, their phone numbers `prefix` and four digits: their
/// sessions.
async fn six_residents(db: &Db, prefix: &str, charged: i64) -> Vec<String> {
    let mut sessions = Vec::new();
    for i in 0..6 {
        sessions.push(charged_resident(db, &format!("{prefix}{i:04}"), charged).await);
    }
    sessions
}

/// A resident with `charged` yen: their session.
async fn charged_resident(db: &Db, phone: &str, charged: i64) -> String {
    let id = db_resident(db, phone).await;
    db_charge(db, id, charged).await;
    db_session(db, phone).await
}

type Batch = tokio::task::JoinHandle<Vec<(u16, String)>>;

/// Eight batches at once, each of twelve ¥100 payments over every resident in its own order.
fn eight_batches_of_100(
    db: &Db,
    programme: &std::sync::Arc<Programme>,
    sessions: &[String],
    store: i64,
) -> Vec<Batch> {
    (0..8usize)
        .map(|b| {
            let (db, programme) = (db.clone(), programme.clone());
            let jobs: Vec<PaymentJob> = (0..12usize)
                .map(|k| {
                    let session = &sessions[(b + k * 5) % sessions.len()];
                    job(session, store, 100, &format!("b{b}-{k}"), "1234")
                })
                .collect();
            tokio::spawn(async move { run(&db, &programme, &jobs).await })
        })
        .collect()
}

/// How many payments the batches made; every other answer must be a short balance.
async fn accepted(batches: Vec<Batch>) -> i64 {
    let mut accepted = 0;
    for batch in batches {
        for (status, code) in batch.await.unwrap() {
            match status {
                201 => accepted += 1,
                422 => assert_eq!(code, "insufficient_balance"),
                other => panic!("answered {other} {code}"),
            }
        }
    }
    accepted
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

/// Every payment of a batch gets exactly its own legs, from its resident's purses to its store,
/// in leg order (a refund returns the latest leg first), whatever the batch's size: the
/// operations are written in one statement and matched back to the payments by the order of
/// their ids, the legs in another.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_payment_of_a_batch_gets_its_own_legs() {
    let t = test_db().await;
    let db = &t.db;
    let programme = Programme::midori_2024().unwrap();
    let stores = [db_store(db).await, db_store(db).await];
    let mut residents = Vec::new();
    for i in 0..5 {
        let id = db_resident(db, &format!("0901333{i:04}")).await;
        db_charge(db, id, 10_000).await;
        let mut tx = db.begin().await.unwrap();
        let expires = in_usage() + chrono::Duration::days(30);
        ledger::award_points(
            &mut tx,
            id,
            Yen(150),
            expires,
            "staff:1",
            json!({}),
            in_usage(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        residents.push(id);
    }
    // Seventeen payments of different amounts, every other one drawing on points first: one
    // leg or two (points, then cash), more rows than the statements' smaller sizes hold.
    let payments: Vec<PaymentInput> = (0..17usize)
        .map(|i| PaymentInput {
            resident_id: residents[i % 5],
            store_id: stores[i % 2],
            amount: Yen(100 + 7 * i as i64),
            use_points: i % 2 == 0,
            programme: &programme,
            channel: PaymentChannel::ResidentApp,
        })
        .collect();
    let mut tx = db.begin().await.unwrap();
    let results = ledger::pay_many(&mut tx, &payments, in_usage())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut two_legs = 0;
    for (payment, result) in payments.iter().zip(&results) {
        let receipt = result.as_ref().expect("paid");
        let (resident, store, amount): (i64, i64, i64) =
            sqlx::query_as("SELECT resident_id, store_id, amount FROM operations WHERE id = $1")
                .bind(receipt.payment_id)
                .fetch_one(db.reader())
                .await
                .unwrap();
        assert_eq!(
            (resident, store, amount),
            (payment.resident_id, payment.store_id, payment.amount.get())
        );
        let legs: Vec<(i64, String, i64, i64)> = sqlx::query_as(
            "SELECT d.owner_id, d.kind, c.owner_id, t.amount FROM transfers t
             JOIN accounts d ON d.id = t.debit_account JOIN accounts c ON c.id = t.credit_account
             WHERE t.operation_id = $1 AND c.kind = 'store' ORDER BY t.id",
        )
        .bind(receipt.payment_id)
        .fetch_all(db.reader())
        .await
        .unwrap();
        let expected: Vec<(i64, String, i64, i64)> = receipt
            .legs
            .iter()
            .map(|leg| {
                (
                    payment.resident_id,
                    AccountKind::of_purse(leg.purse).as_str().to_string(),
                    payment.store_id,
                    leg.amount.get(),
                )
            })
            .collect();
        assert_eq!(legs, expected, "payment {}", receipt.payment_id);
        assert_eq!(legs.iter().map(|l| l.3).sum::<i64>(), payment.amount.get());
        two_legs += usize::from(legs.len() == 2);
    }
    assert!(two_legs > 0, "some payments drew on two purses");
    assert_invariants(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_twice_in_one_batch_pays_once_and_another_body_under_it_conflicts() {
    let t = test_db().await;
    let db = &t.db;
    let programme = Programme::midori_2024().unwrap();
    let store = db_store(db).await;
    let session = charged_resident(db, "09011110003", 1000).await;
    let first = job(&session, store, 300, "k1", "1234");
    let changed = job(&session, store, 500, "k1", "1234");
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
    let session = charged_resident(db, "09011110004", 1000).await;
    let wrong: Vec<PaymentJob> = (0..4)
        .map(|n| job(&session, store, 100, &format!("wrong-{n}"), "0000"))
        .collect();
    // Four wrong PINs, each sent three times (twice in one batch, then again).
    for attempt in wrong.iter() {
        let answers = run(db, &programme, &[attempt.clone(), attempt.clone()]).await;
        assert!(answers.iter().all(|a| a.1 == "wrong_pin"), "{answers:?}");
        let again = run(db, &programme, std::slice::from_ref(attempt)).await;
        assert_eq!(again[0].1, "wrong_pin");
    }
    // Not locked yet: the right PIN pays, and resets the count.
    let right = job(&session, store, 100, "right-1", "1234");
    assert_eq!(run(db, &programme, &[right]).await, [(201, String::new())]);
    // Five new wrong PINs in one batch lock payments at the fifth; a right PIN after it in the
    // same batch is refused by the lock.
    let mut batch: Vec<PaymentJob> = (0..5)
        .map(|n| job(&session, store, 100, &format!("again-{n}"), "0000"))
        .collect();
    batch.push(job(&session, store, 100, "right-2", "1234"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_a_request_that_checks_a_pin_takes_a_payment_attempt() {
    let t = test_db().await;
    let db = &t.db;
    let programme = Programme::midori_2024().unwrap();
    let store = db_store(db).await;
    let session = charged_resident(db, "09011110007", 1000).await;
    // Two attempts a minute, refilled at that pace.
    let limiter = KeyedLimiter::new(Rate::per_minute(2, 2));
    let attempts = Attempts::new(&limiter);
    let mut rules = rules(db, &programme);
    rules.attempts = Some(&attempts);
    let first = job(&session, store, 100, "first", "1234");
    assert_eq!(
        run_under(db, &rules, &[first.clone(), first.clone()]).await,
        [(201, String::new()), (201, String::new())]
    );
    // An app that lost the answer asks again and again: each replay answers, none counts.
    for _ in 0..5 {
        assert_eq!(
            run_under(db, &rules, std::slice::from_ref(&first)).await,
            [(201, String::new())]
        );
    }
    let wrong = job(&session, store, 100, "wrong", "0000");
    assert_eq!(
        run_under(db, &rules, std::slice::from_ref(&wrong)).await,
        [(422, "wrong_pin".to_string())]
    );
    // The third new request within the minute waits, and its key stays free for later.
    let third = job(&session, store, 100, "third", "1234");
    assert_eq!(
        run_under(db, &rules, &[third.clone(), first.clone()]).await,
        [(429, "rate_limited".to_string()), (201, String::new())]
    );
    rules.now += chrono::Duration::seconds(30);
    assert_eq!(
        run_under(db, &rules, &[third]).await,
        [(201, String::new())]
    );
    assert_eq!(payments_made(db).await, 2);
    assert_invariants(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_batches_over_the_same_residents_never_overdraw() {
    let t = test_db().await;
    let db = t.db.clone();
    let programme = std::sync::Arc::new(Programme::midori_2024().unwrap());
    let store = db_store(&db).await;
    let sessions = six_residents(&db, "0901112", 1000).await;
    // Eight batches at once, each over every resident in its own order: ¥100 each, 8 × 2
    // payments per resident, of which the ¥1,000 covers 10.
    let accepted = accepted(eight_batches_of_100(&db, &programme, &sessions, store)).await;
    assert_eq!(accepted, 6 * 10, "on {}", engine_name(&db));
    assert_eq!(
        ledger::store_balance(db.reader(), store).await.unwrap(),
        Yen(6_000)
    );
    assert_invariants(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn refunds_beside_batches_of_the_same_residents_neither_deadlock_nor_overdraw() {
    let t = test_db().await;
    let db = t.db.clone();
    let programme = std::sync::Arc::new(Programme::midori_2024().unwrap());
    let store = db_store(&db).await;
    let sessions = six_residents(&db, "0901113", 2000).await;
    let first: Vec<PaymentJob> = (0..6)
        .map(|i| job(&sessions[i], store, 1000, &format!("first-{i}"), "1234"))
        .collect();
    assert!(
        run(&db, &programme, &first)
            .await
            .iter()
            .all(|a| a.0 == 201)
    );
    let paid: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM operations WHERE kind = 'payment' ORDER BY id")
            .fetch_all(db.reader())
            .await
            .unwrap();
    // Each ¥1,000 payment refunded in two halves while eight batches spend ¥100 at a time over
    // every resident in its own order: ¥1,600 asked of each, ¥1,000 left plus ¥1,000 coming back.
    let mut refunds = Vec::new();
    for (n, payment_id) in paid.iter().flat_map(|&id| [id, id]).enumerate() {
        let db = db.clone();
        refunds.push(tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(n as u64 % 4)).await;
            let input = ledger::RefundInput {
                payment_id,
                amount: Yen(500),
                reason: "返品",
                actor: "store_staff:1",
                only_store: Some(store),
            };
            let mut tx = db.begin().await.expect("begin");
            ledger::refund(&mut tx, input, in_usage())
                .await
                .expect("a refund beside the batches");
            tx.commit().await.expect("commit");
        }));
    }
    let batches = eight_batches_of_100(&db, &programme, &sessions, store);
    for refund in refunds {
        refund.await.unwrap();
    }
    let accepted = accepted(batches).await;
    assert!(accepted >= 6 * 10, "{accepted} on {}", engine_name(&db));
    assert_eq!(
        ledger::store_balance(db.reader(), store).await.unwrap(),
        Yen(100 * accepted)
    );
    assert_invariants(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_a_live_session_of_a_resident_pays_and_a_refused_caller_claims_no_key() {
    let t = test_db().await;
    let db = &t.db;
    let programme = Programme::midori_2024().unwrap();
    let store = db_store(db).await;
    let alice = db_resident(db, "09011110005").await;
    db_charge(db, alice, 1000).await;
    let input = chiiki_backend::auth::LoginInput {
        login: "09011110005",
        password: "midori-password",
        device_name: "old phone",
        public_key: None,
    };
    let old = chiiki_backend::auth::login(db, input, in_usage())
        .await
        .unwrap()
        .token;
    chiiki_backend::auth::revoke_session(db, &old, in_usage())
        .await
        .unwrap();
    let old = chiiki_backend::crypto::token_hash(&old);
    let unknown = chiiki_backend::crypto::token_hash("no such token");
    let live = db_session(db, "09011110005").await;
    let answers = run(
        db,
        &programme,
        &[
            job(&old, store, 100, "k", "1234"),
            job(&unknown, store, 100, "k", "1234"),
            job(&live, store, 100, "k", "1234"),
        ],
    )
    .await;
    assert_eq!(
        answers,
        [
            (401, "unauthorized".to_string()),
            (401, "unauthorized".to_string()),
            (201, String::new())
        ]
    );
    assert_eq!(payments_made(db).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_in_flight_in_two_batches_pays_once() {
    let t = test_db().await;
    let db = t.db.clone();
    let programme = std::sync::Arc::new(Programme::midori_2024().unwrap());
    let store = db_store(&db).await;
    let session = charged_resident(&db, "09011110006", 1000).await;
    let twice = job(&session, store, 300, "in-flight", "1234");
    // The first batch pays and holds its transaction open.
    let mut first = db.begin().await.unwrap();
    let answered = payment_batch::apply(
        &mut first,
        std::slice::from_ref(&twice),
        &rules(&db, &programme),
    )
    .await
    .unwrap();
    let first_answer = answered[0].as_ref().unwrap().response.clone();
    // The second batch, with the same request, starts meanwhile.
    let second = {
        let (db, programme, twice) = (db.clone(), programme.clone(), twice.clone());
        tokio::spawn(async move {
            let rules = rules(&db, &programme);
            let mut tx = db.begin().await.unwrap();
            let outcome = payment_batch::apply(&mut tx, std::slice::from_ref(&twice), &rules).await;
            let raced = matches!(outcome, Err(payment_batch::BatchError::Raced));
            let answer = if raced {
                // What the writer does: roll back and run the batch again.
                tx.rollback().await.unwrap();
                let mut tx = db.begin().await.unwrap();
                let again = payment_batch::apply(&mut tx, &[twice], &rules)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                again
            } else {
                tx.commit().await.unwrap();
                outcome.unwrap()
            };
            (raced, answer[0].as_ref().unwrap().response.clone())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    first.commit().await.unwrap();
    let (raced, second_answer) = second.await.unwrap();
    // The second waits for the first (PostgreSQL: on the resident's row, locked before the
    // keys are looked up; SQLite: for the one writer) and then replays its answer. Were the
    // keys looked up first, it would see the race and run again, to the same end.
    assert!(!raced, "the resident's lock comes before the keys");
    assert_eq!(second_answer, first_answer);
    assert_eq!(payments_made(&db).await, 1);
    assert_invariants(&db).await;
}
