//! The premium set sale end to end, on a real database (SQLite, or PostgreSQL when
//! CHIIKI_TEST_POSTGRES is set): applications and their JST window edges, the committed and
//! verifiable lottery, counter and provider payments issuing sets exactly once, lapse to the
//! additional sale, the per-resident limit, 5,000 concurrent orders that never oversell, the
//! admission gate, expiry, the plain-HTML application page and the `chiiki sale` commands.

mod common;

use chiiki_backend::clock::Clock;
use chiiki_backend::db::Db;
use chiiki_backend::http::error::ApiError;
use chiiki_backend::programme::{MIDORI_2024_TOML, Programme};
use chiiki_backend::sale::applications::{self, SetCount};
use chiiki_backend::sale::lottery::{self, Seed};
use chiiki_backend::sale::purchase::{self, Payment, PaymentReference};
use chiiki_backend::sale::{SaleError, WebhookSecret, expiry};
use chiiki_backend::{ledger, residents};
use chiiki_core::Yen;
use chiiki_core::protocol::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

fn jst(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    chiiki_core::time::jst()
        .with_ymd_and_hms(y, m, d, h, min, s)
        .unwrap()
        .with_timezone(&Utc)
}

/// Midori 2024's moments: applications open, after they close, winners paying, the
/// additional sale, after the usage window.
fn applying() -> DateTime<Utc> {
    jst(2024, 10, 10, 12, 0, 0)
}
fn closed() -> DateTime<Utc> {
    jst(2024, 10, 25, 10, 0, 0)
}
fn paying() -> DateTime<Utc> {
    jst(2024, 11, 5, 10, 0, 0)
}
fn additional() -> DateTime<Utc> {
    jst(2024, 12, 5, 10, 0, 0)
}

const SEED: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

fn seed() -> Seed {
    Seed::parse(SEED).unwrap()
}

/// Midori's programme with other sets on sale and allocation rule.
fn programme(sets_on_sale: i64, allocation: &str) -> Programme {
    Programme::parse(
        &MIDORI_2024_TOML
            .replace(
                "sets_on_sale = 60000",
                &format!("sets_on_sale = {sets_on_sale}"),
            )
            .replace(
                "allocation = \"lottery\"",
                &format!("allocation = \"{allocation}\""),
            ),
    )
    .unwrap()
}

async fn resident(db: &Db, phone: &str) -> i64 {
    let p = Programme::midori_2024().unwrap();
    let new =
        residents::NewResident::parse(&registration(phone), &p, applying().date_naive()).unwrap();
    residents::register(db, new, settings().hash_cost, applying())
        .await
        .unwrap()
}

async fn residents_applying(db: &Db, p: &Programme, first: usize, asks: &[i64]) -> Vec<i64> {
    let mut ids = Vec::new();
    for (i, &sets) in asks.iter().enumerate() {
        let id = resident(db, &format!("0803{:07}", first + i)).await;
        applications::apply(db, p, id, SetCount::parse(sets, p).unwrap(), applying())
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

async fn commit_and_draw(db: &Db, p: &Programme) -> PublicDraw {
    lottery::commit(db, p, &seed().commitment(), "staff:1", closed())
        .await
        .unwrap();
    lottery::draw(db, p, &seed(), "staff:1", closed())
        .await
        .unwrap()
}

async fn assert_sale_sound(db: &Db, p: &Programme) {
    let problems = purchase::check_invariants(db, p).await.unwrap();
    assert!(problems.is_empty(), "sale invariants broken: {problems:#?}");
    let problems = ledger::check_invariants(db.reader()).await.unwrap();
    assert!(
        problems.is_empty(),
        "ledger invariants broken: {problems:#?}"
    );
}

async fn pay_by_provider(
    db: &Db,
    p: &Programme,
    order_id: i64,
    payment_id: &str,
    at: DateTime<Utc>,
) -> Result<purchase::Paid, SaleError> {
    let mut tx = db.begin().await?;
    let amount: i64 = sqlx::query_scalar("SELECT amount FROM sale_orders WHERE id = $1")
        .bind(order_id)
        .fetch_one(&mut *tx)
        .await?;
    let payment = Payment {
        method: SalePaymentMethod::Provider,
        reference: PaymentReference::parse(payment_id, "payment_id")?,
        notified_amount: Some(Yen(amount)),
    };
    match purchase::pay_order(&mut tx, p, order_id, &payment, "provider", at).await {
        Ok(paid) => {
            tx.commit().await?;
            Ok(paid)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

async fn orders_of(db: &Db, resident_id: i64) -> Vec<(i64, i64, String)> {
    sqlx::query_as("SELECT id, sets, status FROM sale_orders WHERE resident_id = $1 ORDER BY id")
        .bind(resident_id)
        .fetch_all(db.reader())
        .await
        .unwrap()
}

/// Sums of transfers out of accounts of one kind (the city's side of what was issued).
async fn debited_from(db: &Db, kind: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM transfers t
         JOIN accounts a ON a.id = t.debit_account WHERE a.kind = $1",
    )
    .bind(kind)
    .fetch_one(db.reader())
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Applications

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn applications_open_and_close_at_jst_midnight() {
    let app = spawn_app().await;
    let (_, token) = app.resident("09050000001").await;
    let apply = |sets: i64| {
        let app = &app;
        let token = token.clone();
        async move {
            app.http
                .put(app.url(paths::ME_SALE_APPLICATION))
                .bearer_auth(&token)
                .json(&ApplicationRequest { sets })
                .send()
                .await
                .unwrap()
        }
    };
    app.clock.set(jst(2024, 9, 30, 23, 59, 59));
    let res = apply(1).await;
    assert_eq!(res.status(), 422);
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, ErrorCode::ApplicationWindowClosed);
    assert!(
        body.message.contains("2024年10月1日〜2024年10月21日"),
        "{}",
        body.message
    );
    app.clock.set(jst(2024, 10, 1, 0, 0, 0));
    assert_eq!(apply(1).await.status(), 200);
    // The last second of 21 October JST (14:59:59 UTC) is in ...
    app.clock.set(jst(2024, 10, 21, 23, 59, 59));
    assert_eq!(apply(2).await.status(), 200);
    // ... and midnight is out, for changes and withdrawals alike.
    app.clock.set(jst(2024, 10, 22, 0, 0, 0));
    assert_eq!(
        error_code(apply(1).await).await,
        (422, ErrorCode::ApplicationWindowClosed)
    );
    let res = app
        .http
        .delete(app.url(paths::ME_SALE_APPLICATION))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res).await,
        (422, ErrorCode::ApplicationWindowClosed)
    );
    let mine: MySale = app
        .get(paths::ME_SALE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.application.map(|a| a.sets), Some(2));
    assert_eq!(mine.phase, SalePhase::AwaitingDraw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_application_per_resident_changeable_and_withdrawable() {
    let app = spawn_app().await;
    app.clock.set(applying());
    let (resident_id, token) = app.resident("09050000002").await;
    let put = |body: serde_json::Value| {
        let app = &app;
        let token = token.clone();
        async move {
            app.http
                .put(app.url(paths::ME_SALE_APPLICATION))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let delete = || async {
        app.http
            .delete(app.url(paths::ME_SALE_APPLICATION))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
    };
    let first: SaleApplication = put(json!({"sets": 1})).await.json().await.unwrap();
    assert_eq!(first.pseudonym.len(), 16);
    let changed: SaleApplication = put(json!({"sets": 2})).await.json().await.unwrap();
    assert_eq!((changed.sets, &changed.pseudonym), (2, &first.pseudonym));
    assert_eq!(delete().await.status(), 204);
    assert_eq!(
        error_code(delete().await).await,
        (404, ErrorCode::NoApplication)
    );
    let back: SaleApplication = put(json!({"sets": 1})).await.json().await.unwrap();
    assert_eq!(back.pseudonym, first.pseudonym, "the pseudonym is kept");
    for bad in [json!({"sets": 0}), json!({"sets": 3}), json!({"sets": -1})] {
        assert_eq!(
            error_code(put(bad).await).await,
            (422, ErrorCode::SetsOutOfRange)
        );
    }
    assert_eq!(
        error_code(put(json!({"sets": 1, "extra": true})).await).await,
        (422, ErrorCode::UnknownField)
    );
    let rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sale_applications WHERE resident_id = $1")
            .bind(resident_id)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    assert_eq!(rows, 1);
    // Only residents apply.
    let admin = app.staff("admin", Role::Administrator).await;
    let res = app
        .http
        .put(app.url(paths::ME_SALE_APPLICATION))
        .bearer_auth(&admin)
        .json(&json!({"sets": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, (403, ErrorCode::Forbidden));
    let res = app
        .http
        .put(app.url(paths::ME_SALE_APPLICATION))
        .json(&json!({"sets": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, (401, ErrorCode::Unauthorized));
}

// ---------------------------------------------------------------------------------------------
// The lottery

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_draw_is_committed_revealed_and_anyone_can_verify_it() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let viewer = app.staff("viewer", Role::Viewer).await;
    app.clock.set(applying());
    let mut tokens = Vec::new();
    for i in 0..5 {
        let (_, token) = app.resident(&format!("0905100000{i}")).await;
        let res = app
            .http
            .put(app.url(paths::ME_SALE_APPLICATION))
            .bearer_auth(&token)
            .json(&ApplicationRequest { sets: 1 + i % 2 })
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        tokens.push(token);
    }
    let commit = |token: &str, commitment: String| {
        let app = &app;
        let token = token.to_string();
        async move {
            app.post(
                paths::ADMIN_SALE_COMMITMENT,
                Some(&token),
                None,
                &CommitRequest { commitment },
            )
            .await
        }
    };
    let commitment = seed().commitment().as_str().to_string();
    assert_eq!(
        error_code(commit(&admin, commitment.clone()).await).await,
        (409, ErrorCode::ApplicationsStillOpen)
    );
    assert_eq!(
        error_code(app.get(paths::SALE_DRAW, None).await).await,
        (404, ErrorCode::DrawNotCommitted)
    );
    app.clock.set(closed());
    assert_eq!(
        error_code(commit(&viewer, commitment.clone()).await).await,
        (403, ErrorCode::Forbidden)
    );
    assert_eq!(
        error_code(commit(&admin, "abc".into()).await).await,
        (422, ErrorCode::InvalidField)
    );
    let res = commit(&admin, commitment.clone()).await;
    assert_eq!(res.status(), 201);
    let committed: PublicDraw = res.json().await.unwrap();
    assert_eq!(committed.commitment, commitment);
    assert_eq!(committed.algorithm, LOTTERY_ALGORITHM);
    assert_eq!(committed.applications.len(), 5);
    assert!(committed.seed.is_none() && committed.results.is_none());
    let published: PublicDraw = app.get(paths::SALE_DRAW, None).await.json().await.unwrap();
    assert_eq!(published, committed);
    assert_eq!(
        error_code(commit(&admin, commitment.clone()).await).await,
        (409, ErrorCode::DrawAlreadyCommitted)
    );

    let draw = |seed: &str| {
        let app = &app;
        let admin = admin.clone();
        let seed = seed.to_string();
        async move {
            app.post(
                paths::ADMIN_SALE_DRAW,
                Some(&admin),
                None,
                &DrawRequest { seed },
            )
            .await
        }
    };
    assert_eq!(
        error_code(draw(&"0".repeat(64)).await).await,
        (422, ErrorCode::SeedMismatch)
    );
    let res = draw(SEED).await;
    assert_eq!(res.status(), 200);
    let drawn: PublicDraw = res.json().await.unwrap();
    assert_eq!(drawn.seed.as_deref(), Some(SEED));
    assert_eq!(drawn.applications_hash, committed.applications_hash);
    let verified = lottery::verify(&drawn).unwrap();
    assert_eq!(verified.applications, 5);
    assert_eq!(
        error_code(draw(SEED).await).await,
        (409, ErrorCode::DrawAlreadyDone)
    );
    let public: PublicDraw = app.get(paths::SALE_DRAW, None).await.json().await.unwrap();
    assert_eq!(public, drawn);
    // Nobody behind the pseudonyms is named.
    let text = app.get(paths::SALE_DRAW, None).await.text().await.unwrap();
    assert!(!text.contains("resident") && !text.contains("緑"), "{text}");

    // 60,000 sets: everyone gets all they asked for, and sees what to pay, how and by when.
    app.clock.set(paying());
    for (i, token) in tokens.iter().enumerate() {
        let mine: MySale = app
            .get(paths::ME_SALE, Some(token))
            .await
            .json()
            .await
            .unwrap();
        let asked = 1 + i as i64 % 2;
        assert_eq!(mine.phase, SalePhase::WinnersPaying);
        assert_eq!(
            mine.result,
            Some(DrawOutcome {
                requested: asked,
                won: asked
            })
        );
        let order = &mine.orders[0];
        assert_eq!(order.status, OrderStatus::Due);
        assert_eq!(order.amount, Yen(5000 * asked));
        assert_eq!(order.value, Yen(6500 * asked));
        assert_eq!(order.pay_by.to_rfc3339(), "2024-11-30T15:00:00+00:00");
        assert_eq!(
            order.payment_methods,
            vec![SalePaymentMethod::Counter, SalePaymentMethod::Provider]
        );
        assert_eq!(mine.sets_held, asked);
    }
    let summary: SaleSummary = app
        .get(paths::ADMIN_SALE, Some(&viewer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            summary.applications,
            summary.sets_requested,
            summary.sets_due
        ),
        (5, 7, 7)
    );
    assert_eq!(summary.sets_remaining, Some(60_000 - 7));
    let doc: serde_json::Value = app.get("/openapi.json", None).await.json().await.unwrap();
    for path in [
        paths::ME_SALE,
        paths::SALE_DRAW,
        paths::SALE_ORDERS,
        paths::SALE_PROVIDER_NOTIFICATIONS,
        paths::ADMIN_SALE_DRAW,
        "/api/v1/admin/sale/orders/{id}/counter-payment",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversubscribed_lotteries_follow_the_programmes_rule() {
    let t = test_db().await;
    let db = &t.db;
    // Rule `lottery`: 12 residents ask for 2 sets each, 11 sets on sale.
    let p = programme(11, "lottery");
    let ids = residents_applying(db, &p, 0, &[2; 12]).await;
    let drawn = commit_and_draw(db, &p).await;
    lottery::verify(&drawn).unwrap();
    let results = drawn.results.clone().unwrap();
    let won: i64 = results.iter().map(|r| r.won).sum();
    assert_eq!(won, 10, "five whole applications fit in 11 sets");
    assert!(results.iter().all(|r| r.won == 0 || r.won == 2));
    let mut holders = 0;
    for id in &ids {
        let orders = orders_of(db, *id).await;
        assert!(
            orders
                .iter()
                .all(|(_, sets, status)| *sets == 2 && status == "due")
        );
        holders += orders.len();
    }
    assert_eq!(holders, 5);
    assert_sale_sound(db, &p).await;

    // Rule `one-each-first` on another programme id: 8 residents ask for 2, 10 sets on sale.
    let p2 = Programme::parse(
        &MIDORI_2024_TOML
            .replace("midori-2024", "midori-2025")
            .replace("sets_on_sale = 60000", "sets_on_sale = 10")
            .replace(
                "allocation = \"lottery\"",
                "allocation = \"one-each-first\"",
            ),
    )
    .unwrap();
    residents_applying(db, &p2, 100, &[2; 8]).await;
    let drawn = commit_and_draw(db, &p2).await;
    lottery::verify(&drawn).unwrap();
    let results = drawn.results.unwrap();
    assert_eq!(drawn.rule, AllocationRule::OneEachFirst);
    assert!(results.iter().all(|r| r.won >= 1), "everyone gets one");
    assert_eq!(results.iter().filter(|r| r.won == 2).count(), 2);
    assert_sale_sound(db, &p2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_draw_refuses_applications_that_changed_after_the_commitment() {
    let t = test_db().await;
    let db = &t.db;
    let p = programme(10, "lottery");
    residents_applying(db, &p, 200, &[1, 2, 1]).await;
    lottery::commit(db, &p, &seed().commitment(), "staff:1", closed())
        .await
        .unwrap();
    // Someone with database access slips an application in after the list was frozen.
    let intruder = resident(db, "08039999999").await;
    sqlx::query(
        "INSERT INTO sale_applications
             (programme, resident_id, pseudonym, sets, withdrawn, created_at, updated_at)
         VALUES ($1, $2, '0000000000000000', 2, 0, 0, 0)",
    )
    .bind(&p.id)
    .bind(intruder)
    .execute(db.writer())
    .await
    .unwrap();
    assert!(matches!(
        lottery::draw(db, &p, &seed(), "staff:1", closed()).await,
        Err(SaleError::ApplicationsChanged)
    ));
    // Before the window closes nothing can be committed, and a wrong seed is refused.
    let early = Programme::parse(&MIDORI_2024_TOML.replace("midori-2024", "midori-2026")).unwrap();
    assert!(matches!(
        lottery::commit(db, &early, &seed().commitment(), "staff:1", applying()).await,
        Err(SaleError::ApplicationsStillOpen { .. })
    ));
    assert!(matches!(
        lottery::draw(db, &early, &seed(), "staff:1", closed()).await,
        Err(SaleError::NotCommitted)
    ));
}

// ---------------------------------------------------------------------------------------------
// Purchases and issuance

/// Applications by `n` residents for `sets` each, drawn: (resident id, token, order id).
async fn drawn_winners(app: &TestApp, admin: &str, n: usize, sets: i64) -> Vec<(i64, String, i64)> {
    app.clock.set(applying());
    let mut people = Vec::new();
    for i in 0..n {
        let (id, token) = app.resident(&format!("0906{:07}", i)).await;
        let res = app
            .http
            .put(app.url(paths::ME_SALE_APPLICATION))
            .bearer_auth(&token)
            .json(&ApplicationRequest { sets })
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        people.push((id, token));
    }
    app.clock.set(closed());
    let commitment = seed().commitment().as_str().to_string();
    let res = app
        .post(
            paths::ADMIN_SALE_COMMITMENT,
            Some(admin),
            None,
            &CommitRequest { commitment },
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            paths::ADMIN_SALE_DRAW,
            Some(admin),
            None,
            &DrawRequest { seed: SEED.into() },
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut out = Vec::new();
    for (id, token) in people {
        let mine: MySale = app
            .get(paths::ME_SALE, Some(&token))
            .await
            .json()
            .await
            .unwrap();
        out.push((id, token, mine.orders[0].order_id));
    }
    out
}

async fn counter_pay(
    app: &TestApp,
    admin: &str,
    key: &str,
    order_id: i64,
    receipt: &str,
) -> reqwest::Response {
    app.post(
        &paths::counter_payment(order_id),
        Some(admin),
        Some(key),
        &CounterPaymentRequest {
            receipt_number: receipt.into(),
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn winners_pay_at_the_counter_and_get_their_sets_exactly_once() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let winners = drawn_winners(&app, &admin, 3, 2).await;
    let (resident_id, token, order_id) = winners[0].clone();

    // Before the sale window: refused, naming the window.
    let res = counter_pay(&app, &admin, "early", order_id, "R-0001").await;
    assert_eq!(error_code(res).await, (422, ErrorCode::SaleWindowClosed));

    app.clock.set(paying());
    let res = counter_pay(&app, &admin, "k1", order_id, "R-0001").await;
    assert_eq!(res.status(), 201);
    let receipt: SalePurchaseReceipt = res.json().await.unwrap();
    assert_eq!(
        (receipt.sets, receipt.amount_paid, receipt.value_issued),
        (2, Yen(10_000), Yen(13_000))
    );
    assert_eq!(receipt.method, SalePaymentMethod::Counter);
    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(13_000));
    assert_eq!(balance.purses[0].issue.as_deref(), None);
    let premium = balance
        .purses
        .iter()
        .find(|p| p.kind == PurseKind::Premium)
        .unwrap();
    assert_eq!(
        (premium.issue.as_deref(), premium.balance),
        (Some("midori-2024"), Yen(13_000))
    );
    // The city's accounts show both: ¥10,000 from the fund, ¥3,000 premium from the issuer.
    assert_eq!(debited_from(&app.db, "fund").await, 10_000);
    assert_eq!(debited_from(&app.db, "issuer_premium").await, 3_000);

    // The same request again, and the same receipt again: nothing more is issued.
    let again = counter_pay(&app, &admin, "k1", order_id, "R-0001").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<SalePurchaseReceipt>().await.unwrap(), receipt);
    let same_receipt = counter_pay(&app, &admin, "k2", order_id, "R-0001").await;
    assert_eq!(same_receipt.status(), 201);
    assert_eq!(
        same_receipt.json::<SalePurchaseReceipt>().await.unwrap(),
        receipt
    );
    let res = counter_pay(&app, &admin, "k3", order_id, "R-0002").await;
    assert_eq!(error_code(res).await, (409, ErrorCode::OrderAlreadyPaid));
    let other_order = winners[1].2;
    let res = counter_pay(&app, &admin, "k4", other_order, "R-0001").await;
    assert_eq!(error_code(res).await, (409, ErrorCode::ReceiptNumberUsed));
    let res = counter_pay(&app, &admin, "k5", 999_999, "R-0009").await;
    assert_eq!(error_code(res).await, (404, ErrorCode::UnknownOrder));
    let res = counter_pay(&app, &admin, "k6", other_order, " ").await;
    assert_eq!(error_code(res).await, (422, ErrorCode::InvalidField));
    let res = app
        .post(
            &paths::counter_payment(other_order),
            Some(&admin),
            None,
            &CounterPaymentRequest {
                receipt_number: "R-0003".into(),
            },
        )
        .await;
    assert_eq!(
        error_code(res).await,
        (400, ErrorCode::IdempotencyKeyMissing)
    );

    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(13_000));
    let history: TransactionPage = app
        .get(paths::ME_TRANSACTIONS, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history.items[0].kind, TransactionKind::Purchase);
    assert_eq!(history.items[0].amount, Yen(13_000));
    let mine: MySale = app
        .get(paths::ME_SALE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.orders[0].status, OrderStatus::Paid);
    assert_eq!(mine.orders[0].paid_at, Some(paying()));
    assert_eq!(debited_from(&app.db, "fund").await, 10_000);
    let purchases: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM operations WHERE kind = 'purchase' AND resident_id = $1",
    )
    .bind(resident_id)
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!(purchases, 1);
    app.check_ledger().await;
    assert_sale_sound(&app.db, &app.programme).await;
}

fn signed(body: &str, at: DateTime<Utc>) -> String {
    WebhookSecret::new(WEBHOOK_SECRET)
        .unwrap()
        .sign(at.timestamp(), body.as_bytes())
}

async fn notify(app: &TestApp, body: &str, signature: Option<String>) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url(paths::SALE_PROVIDER_NOTIFICATIONS))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(sig) = signature {
        req = req.header(SALE_SIGNATURE_HEADER, sig);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn provider_notifications_are_signed_fresh_and_issue_once() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let winners = drawn_winners(&app, &admin, 2, 1).await;
    let (_, token, order_id) = winners[0].clone();
    app.clock.set(paying());
    let body = json!({"payment_id": "pay_001", "order_id": order_id, "amount": 5000}).to_string();

    let res = notify(&app, &body, Some(signed(&body, paying()))).await;
    assert_eq!(res.status(), 200);
    let ack: ProviderAck = res.json().await.unwrap();
    assert!(ack.issued_now);
    assert_eq!(ack.receipt.value_issued, Yen(6500));
    // A replay inside the window is recognised by its payment id: nothing more is issued.
    app.clock.set(paying() + Duration::seconds(90));
    let res = notify(&app, &body, Some(signed(&body, paying()))).await;
    assert_eq!(res.status(), 200);
    let again: ProviderAck = res.json().await.unwrap();
    assert!(!again.issued_now);
    assert_eq!(again.receipt, ack.receipt);
    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(6500));

    // The same order paid again under another payment id.
    let twice = json!({"payment_id": "pay_002", "order_id": order_id, "amount": 5000}).to_string();
    let res = notify(&app, &twice, Some(signed(&twice, app.clock.now()))).await;
    assert_eq!(error_code(res).await, (409, ErrorCode::OrderAlreadyPaid));

    let other = winners[1].2;
    let good = json!({"payment_id": "pay_003", "order_id": other, "amount": 5000}).to_string();
    let now = app.clock.now();
    // Tampered body, wrong key, no header, garbage header.
    let tampered = good.replace("5000", "500");
    let res = notify(&app, &tampered, Some(signed(&good, now))).await;
    assert_eq!(error_code(res).await, (401, ErrorCode::BadSignature));
    let forged = WebhookSecret::new("guess")
        .unwrap()
        .sign(now.timestamp(), good.as_bytes());
    let res = notify(&app, &good, Some(forged)).await;
    assert_eq!(error_code(res).await, (401, ErrorCode::BadSignature));
    let res = notify(&app, &good, None).await;
    assert_eq!(error_code(res).await, (401, ErrorCode::BadSignature));
    let res = notify(&app, &good, Some("v1=abc".into())).await;
    assert_eq!(error_code(res).await, (401, ErrorCode::BadSignature));
    // A correctly signed notification replayed ten minutes later, or from the future.
    let res = notify(
        &app,
        &good,
        Some(signed(&good, now - Duration::minutes(10))),
    )
    .await;
    assert_eq!(error_code(res).await, (401, ErrorCode::StaleNotification));
    let res = notify(
        &app,
        &good,
        Some(signed(&good, now + Duration::minutes(10))),
    )
    .await;
    assert_eq!(error_code(res).await, (401, ErrorCode::StaleNotification));
    // Signed but wrong: the amount, the order, the JSON.
    let short = json!({"payment_id": "pay_004", "order_id": other, "amount": 4999}).to_string();
    let res = notify(&app, &short, Some(signed(&short, now))).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::AmountMismatch));
    let nobody = json!({"payment_id": "pay_005", "order_id": 424242, "amount": 5000}).to_string();
    let res = notify(&app, &nobody, Some(signed(&nobody, now))).await;
    assert_eq!(error_code(res).await, (404, ErrorCode::UnknownOrder));
    let res = notify(&app, "{not json", Some(signed("{not json", now))).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::InvalidField));
    // None of that issued anything; the good one does.
    let mine: MySale = app
        .get(paths::ME_SALE, Some(&winners[1].1))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.orders[0].status, OrderStatus::Due);
    let res = notify(&app, &good, Some(signed(&good, now))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(debited_from(&app.db, "fund").await, 10_000);
    assert_eq!(debited_from(&app.db, "issuer_premium").await, 3_000);
    app.check_ledger().await;
    assert_sale_sound(&app.db, &app.programme).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_webhook_secret_every_notification_is_refused() {
    let mut sale = sale_settings();
    sale.webhook_secret = None;
    let app = spawn_app_with(chiiki_backend::ops::limits::Limits::new(10_000), sale).await;
    let body = json!({"payment_id": "p", "order_id": 1, "amount": 5000}).to_string();
    let res = notify(&app, &body, Some(signed(&body, app.clock.now()))).await;
    assert_eq!(
        error_code(res).await,
        (503, ErrorCode::WebhookNotConfigured)
    );
}

// ---------------------------------------------------------------------------------------------
// Lapse, the additional sale and the limit

async fn order(app: &TestApp, token: &str, key: &str, sets: i64) -> reqwest::Response {
    app.post(
        paths::SALE_ORDERS,
        Some(token),
        Some(key),
        &OrderRequest { sets },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unpaid_winners_lose_their_sets_to_the_additional_sale() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let winners = drawn_winners(&app, &admin, 3, 2).await;
    let (_, payer, paid_order) = winners[0].clone();
    let (_, late, late_order) = winners[1].clone();
    let (_, _, third_order) = winners[2].clone();
    app.clock.set(jst(2024, 11, 30, 23, 59, 59));
    assert_eq!(
        counter_pay(&app, &admin, "p", paid_order, "R-1")
            .await
            .status(),
        201
    );
    // One second before midnight the additional sale has not opened.
    let res = order(&app, &late, "o0", 1).await;
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, ErrorCode::AdditionalSaleNotOpen);
    assert!(body.message.contains("2024年12月1日"), "{}", body.message);

    // Midnight JST: the unpaid winners' sets have lapsed.
    app.clock.set(jst(2024, 12, 1, 0, 0, 0));
    let res = counter_pay(&app, &admin, "late", late_order, "R-2").await;
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, ErrorCode::OrderLapsed);
    assert!(
        body.message.contains("2024年11月30日まで"),
        "{}",
        body.message
    );
    let mine: MySale = app
        .get(paths::ME_SALE, Some(&late))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.phase, SalePhase::AdditionalSale);
    assert_eq!(mine.orders[0].status, OrderStatus::Lapsed);
    assert_eq!(mine.sets_held, 0);

    // The loser of the deadline may buy in the additional sale; the payer is at the limit.
    let res = order(&app, &late, "o1", 2).await;
    assert_eq!(res.status(), 201);
    let taken: SaleOrder = res.json().await.unwrap();
    assert_eq!(taken.channel, OrderChannel::Additional);
    assert_eq!(taken.pay_by, jst(2024, 12, 1, 1, 0, 0), "60 minutes to pay");
    let again = order(&app, &late, "o1", 2).await;
    assert_eq!(
        again.json::<SaleOrder>().await.unwrap(),
        taken,
        "same key, same order"
    );
    let res = order(&app, &late, "o2", 1).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::SaleLimitReached));
    let res = order(&app, &payer, "o3", 1).await;
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, ErrorCode::SaleLimitReached);
    assert!(
        body.message.contains("お一人2セットまで"),
        "{}",
        body.message
    );
    let mine: MySale = app
        .get(paths::ME_SALE, Some(&late))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.sets_held, 2);
    let summary: SaleSummary = app
        .get(paths::ADMIN_SALE, Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(summary.sets_sold, 2);
    assert_eq!(summary.sets_due, 2);
    assert_eq!(summary.sets_remaining, Some(60_000 - 4));
    let lapsed: String = sqlx::query_scalar("SELECT status FROM sale_orders WHERE id = $1")
        .bind(third_order)
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(lapsed, "lapsed", "the lapse is written, not only shown");

    // The additional order is paid through the provider; an hour later it would have lapsed.
    let body =
        json!({"payment_id": "pay_add", "order_id": taken.order_id, "amount": 10000}).to_string();
    let res = notify(&app, &body, Some(signed(&body, app.clock.now()))).await;
    assert_eq!(res.status(), 200);
    // A counter sale in the additional sale: taken and paid at once, within the limit.
    let (third_id, _, _) = winners[2].clone();
    let res = app
        .post(
            paths::ADMIN_SALE_COUNTER_PURCHASES,
            Some(&admin),
            Some("c1"),
            &CounterPurchaseRequest {
                resident_id: third_id,
                sets: 3,
                receipt_number: "R-9".into(),
            },
        )
        .await;
    assert_eq!(error_code(res).await, (422, ErrorCode::SetsOutOfRange));
    let res = app
        .post(
            paths::ADMIN_SALE_COUNTER_PURCHASES,
            Some(&admin),
            Some("c2"),
            &CounterPurchaseRequest {
                resident_id: third_id,
                sets: 1,
                receipt_number: "R-9".into(),
            },
        )
        .await;
    assert_eq!(res.status(), 201);
    // After the sale window, nothing more is sold.
    app.clock.set(jst(2025, 1, 1, 0, 0, 0));
    let res = order(&app, &late, "o9", 1).await;
    assert_eq!(
        error_code(res).await,
        (422, ErrorCode::AdditionalSaleNotOpen)
    );
    app.check_ledger().await;
    assert_sale_sound(&app.db, &app.programme).await;
}

/// 5,000 concurrent additional-sale orders from 500 residents (some already holding lottery
/// sets) at 100 remaining sets: exactly 100 are taken, nobody passes the limit, and every
/// other request is told plainly why.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn five_thousand_concurrent_orders_never_oversell() {
    let t = test_db().await;
    let db = t.db.clone();
    let p = Arc::new(programme(200, "lottery"));
    // 100 applicants for 2 sets each: 200 requested, 200 on sale, everyone wins.
    let applicants = residents_applying(&db, &p, 1_000, &[2; 100]).await;
    commit_and_draw(&db, &p).await;
    // Half pay; the other half's 100 sets lapse into the additional sale.
    for (i, id) in applicants.iter().enumerate().take(50) {
        let (order_id, _, _) = orders_of(&db, *id).await[0];
        pay_by_provider(&db, &p, order_id, &format!("pay-{i}"), paying())
            .await
            .unwrap();
    }
    let mut everyone = applicants.clone();
    for i in 0..400 {
        everyone.push(resident(&db, &format!("0804{i:07}")).await);
    }
    let at = additional();
    assert_eq!(purchase::lapse_overdue(&db, &p, at).await.unwrap(), 100);

    // The server's own admission gate, as in front of the sale endpoints: all 5,000 are in
    // flight at once, the database sees as many as its pool allows, and nobody times out
    // waiting for a connection on a loaded machine.
    let gate = chiiki_backend::sale::Admission::new(chiiki_backend::sale::AdmissionLimits {
        in_flight: 64,
        queue: 5_000,
        max_wait: std::time::Duration::from_secs(600),
        retry_after: std::time::Duration::from_secs(1),
    });
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..5_000usize {
        let db = db.clone();
        let p = p.clone();
        let gate = gate.clone();
        let resident_id = everyone[i % everyone.len()];
        let sets = if i % 3 == 0 { 2 } else { 1 };
        tasks.push(tokio::spawn(async move {
            let _admitted = gate.enter().await.expect("admitted");
            let sets = SetCount::parse(sets, &p).unwrap();
            let outcome = if i % 2 == 0 {
                purchase::place_order(&db, &p, resident_id, sets, at).await
            } else {
                // Half skip the read-only precheck, so that the conditional updates alone
                // must hold the line.
                let mut tx = db.begin().await.unwrap();
                match purchase::take_order(&mut tx, &p, resident_id, sets, at).await {
                    Ok(order) => tx.commit().await.map(|_| order).map_err(SaleError::from),
                    Err(e) => {
                        tx.rollback().await.unwrap();
                        Err(e)
                    }
                }
            };
            (resident_id, outcome)
        }));
    }
    let mut taken_by: BTreeMap<i64, i64> = BTreeMap::new();
    let mut taken = 0;
    let mut refusals: BTreeMap<&'static str, usize> = BTreeMap::new();
    for task in tasks {
        let (resident_id, outcome) = task.await.unwrap();
        match outcome {
            Ok(order) => {
                taken += order.sets;
                *taken_by.entry(resident_id).or_insert(0) += order.sets;
            }
            Err(e) => {
                let e = ApiError::from(e);
                assert!(
                    matches!(e.code, ErrorCode::SoldOut | ErrorCode::SaleLimitReached),
                    "unexpected refusal {:?}: {}",
                    e.code,
                    e.message
                );
                assert!(e.status.is_client_error());
                // Plain words first: Japanese, then English after " / ".
                let (japanese, english) = e.message.split_once(" / ").unwrap();
                assert!(!japanese.is_ascii() && !english.is_empty());
                *refusals.entry(e.code.as_str()).or_insert(0) += 1;
            }
        }
    }
    eprintln!(
        "5,000 orders on {} in {:?}: {taken} sets taken, refusals {refusals:?}",
        engine_name(&db),
        started.elapsed()
    );
    assert_eq!(taken, 100, "exactly the 100 remaining sets are taken");
    assert!(refusals.get("sold_out").copied().unwrap_or(0) > 0);
    for (i, id) in everyone.iter().enumerate() {
        let from_lottery = if i < 50 { 2 } else { 0 };
        let total = from_lottery + taken_by.get(id).copied().unwrap_or(0);
        assert!(total <= 2, "resident {id} holds {total} sets");
    }
    // The winners of the rush pay; the sale is then sold out, exactly.
    let due: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM sale_orders WHERE programme = $1 AND status = 'due'")
            .bind(&p.id)
            .fetch_all(db.reader())
            .await
            .unwrap();
    for order_id in due {
        pay_by_provider(&db, &p, order_id, &format!("rush-{order_id}"), at)
            .await
            .unwrap();
    }
    let sold: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(sets), 0) AS BIGINT) FROM sale_orders
         WHERE programme = $1 AND status = 'paid'",
    )
    .bind(&p.id)
    .fetch_one(db.reader())
    .await
    .unwrap();
    assert_eq!(sold, 200);
    let one = SetCount::parse(1, &p).unwrap();
    let late = purchase::place_order(&db, &p, everyone[499], one, at).await;
    assert!(matches!(late, Err(SaleError::SoldOut { remaining: 0 })));
    let issued: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM operations WHERE kind = 'purchase'",
    )
    .fetch_one(db.reader())
    .await
    .unwrap();
    assert_eq!(issued, 200 * 6500);
    assert_sale_sound(&db, &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_burst_of_sale_requests_is_turned_away_while_payments_go_on() {
    let gate = chiiki_backend::sale::AdmissionLimits {
        in_flight: 1,
        queue: 0,
        max_wait: std::time::Duration::from_millis(50),
        retry_after: std::time::Duration::from_secs(7),
    };
    let mut sale = sale_settings();
    sale.admission = gate;
    let app = spawn_app_with(chiiki_backend::ops::limits::Limits::new(10_000), sale).await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let (resident_id, token) = app.resident("09058888888").await;
    app.charge(&admin, resident_id, 10_000).await;
    let app = Arc::new(app);
    let mut burst = Vec::new();
    for _ in 0..200 {
        let app = app.clone();
        let token = token.clone();
        burst.push(tokio::spawn(async move {
            let res = app.get(paths::ME_SALE, Some(&token)).await;
            let retry = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            (res.status().as_u16(), retry, res.text().await.unwrap())
        }));
    }
    let store_id = store.id;
    let mut payments = Vec::new();
    for i in 0..20 {
        let app = app.clone();
        let token = token.clone();
        payments.push(tokio::spawn(async move {
            app.pay(&token, &format!("pay-{i}"), store_id, 100, "1234")
                .await
                .status()
                .as_u16()
        }));
    }
    let mut busy = 0;
    for task in burst {
        let (status, retry, body) = task.await.unwrap();
        match status {
            200 => {}
            503 => {
                busy += 1;
                assert_eq!(retry.as_deref(), Some("7"));
                assert!(body.contains("sale_busy"), "{body}");
            }
            other => panic!("sale answered {other}"),
        }
    }
    assert!(busy > 0, "a gate of one must turn some of 200 away");
    for task in payments {
        assert_eq!(task.await.unwrap(), 201, "payments are not behind the gate");
    }
    // The page says so in HTML.
    let mut pages = Vec::new();
    for _ in 0..50 {
        let app = app.clone();
        pages.push(tokio::spawn(async move {
            let res = app.get(paths::SALE_PAGE, None).await;
            (res.status().as_u16(), res.text().await.unwrap())
        }));
    }
    let mut html_busy = false;
    for task in pages {
        let (status, text) = task.await.unwrap();
        if status == 503 {
            assert!(text.contains("混み合っています"));
            html_busy = true;
        }
    }
    assert!(html_busy || busy > 0);
    app.check_ledger().await;
}

// ---------------------------------------------------------------------------------------------
// Expiry

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiry_moves_what_is_left_once_with_a_summary() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let winners = drawn_winners(&app, &admin, 3, 1).await;
    app.clock.set(paying());
    for (i, (_, _, order_id)) in winners.iter().enumerate() {
        let res = counter_pay(&app, &admin, &format!("k{i}"), *order_id, &format!("R-{i}")).await;
        assert_eq!(res.status(), 201);
    }
    let (resident_id, token, _) = winners[0].clone();
    app.clock.set(in_usage());
    assert_eq!(
        app.pay(&token, "spend", store.id, 1500, "1234")
            .await
            .status(),
        201
    );
    app.charge(&admin, resident_id, 700).await;

    app.clock.set(jst(2025, 2, 28, 23, 59, 59));
    // Staff sessions last hours, not months: sign in again at the end of the programme.
    let admin = app.login("admin", "staff-password").await.token;
    let expire = |key: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.post(
                paths::ADMIN_SALE_EXPIRE,
                Some(&admin),
                Some(key),
                &json!(null),
            )
            .await
        }
    };
    let res = expire("early").await;
    assert_eq!(error_code(res).await, (409, ErrorCode::ExpiryTooEarly));
    // Midnight: payments already never draw on the expired purse, before any job runs.
    app.clock.set(jst(2025, 3, 1, 0, 0, 0));
    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(700), "only charged money is spendable");

    let res = expire("first").await;
    assert_eq!(res.status(), 200);
    let summary: ExpirySummary = res.json().await.unwrap();
    assert_eq!(summary.residents, 3);
    assert_eq!(summary.amount, Yen(6500 * 3 - 1500));
    assert_eq!(summary.total_lapsed, summary.amount);
    let replay: ExpirySummary = expire("first").await.json().await.unwrap();
    assert_eq!(replay, summary, "same key, same answer");
    let again: ExpirySummary = expire("second").await.json().await.unwrap();
    assert_eq!((again.residents, again.amount), (0, Yen(0)));
    assert_eq!(again.total_lapsed, summary.amount);

    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let premium = balance
        .purses
        .iter()
        .find(|p| p.kind == PurseKind::Premium)
        .unwrap();
    assert_eq!(premium.balance, Yen(0));
    assert_eq!(balance.total, Yen(700), "charged money does not expire");
    let history: TransactionPage = app
        .get(paths::ME_TRANSACTIONS, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history.items[0].kind, TransactionKind::Expiry);
    assert_eq!(history.items[0].amount, Yen(-5000));
    let viewer = app.staff("viewer", Role::Viewer).await;
    let res = app
        .post(
            paths::ADMIN_SALE_EXPIRE,
            Some(&viewer),
            Some("v"),
            &json!(null),
        )
        .await;
    assert_eq!(error_code(res).await, (403, ErrorCode::Forbidden));
    app.check_ledger().await;

    // The domain function on another issue whose purses expired with the same usage window.
    let db = &app.db;
    let old = Programme::parse(&MIDORI_2024_TOML.replace("midori-2024", "midori-2023")).unwrap();
    let mut tx = db.begin().await.unwrap();
    for (resident, _, _) in &winners {
        ledger::issue_sets(&mut tx, &old, *resident, 1, "staff:1", json!({}), paying())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let done = expiry::expire(db, &old, "job:expiry", jst(2025, 3, 2, 4, 0, 0))
        .await
        .unwrap();
    assert_eq!((done.residents, done.amount), (3, Yen(3 * 6500)));
    app.check_ledger().await;
}

// ---------------------------------------------------------------------------------------------
// The application page

/// `application/x-www-form-urlencoded`, as a browser sends a form.
fn form(fields: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn hidden_csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_application_page_works_without_javascript() {
    let app = spawn_app().await;
    app.clock.set(applying());
    let mut reg = registration("09057777777");
    reg.name = "<b>緑</b> 花子".into();
    let res = app.post(paths::RESIDENTS, None, None, &reg).await;
    assert_eq!(res.status(), 201);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| app.url(path);

    let res = http.get(url("/sale")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let cookies = set_cookies(&res);
    let login_cookie = cookies
        .iter()
        .find(|c| c.starts_with("chiiki_sale_login="))
        .expect("login cookie")
        .clone();
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Strict"));
    let page = res.text().await.unwrap();
    assert!(page.contains("<html lang=\"ja\">"));
    assert!(page.contains("<label for=\"login\">") && page.contains("id=\"login\""));
    assert!(page.contains("<label for=\"password\">"));
    assert!(!page.contains("<script"), "no JavaScript");
    assert!(page.contains("2024年10月1日から2024年10月21日まで"));
    let csrf = hidden_csrf(&page);

    let login = |csrf: String, password: &'static str| {
        let http = http.clone();
        let url = url("/sale/login");
        let cookie = cookie_pair(&login_cookie);
        async move {
            http.post(url)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[
                    ("csrf", csrf.as_str()),
                    ("login", "090-5777-7777"),
                    ("password", password),
                ]))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        login("forged".into(), "midori-password").await.status(),
        403
    );
    let wrong = login(csrf.clone(), "not-the-password").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("role=\"alert\""));
    let res = login(csrf.clone(), "midori-password").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/sale?done=signed-in");
    let session = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("chiiki_sale="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    let session = cookie_pair(&session);

    let get_page = || async {
        http.get(url("/sale"))
            .header("cookie", session.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let page = get_page().await;
    assert!(
        page.contains("&lt;b&gt;緑&lt;/b&gt; 花子さん"),
        "names are escaped"
    );
    assert!(!page.contains("<b>緑</b>"));
    assert!(page.contains("<fieldset>") && page.contains("<legend>"));
    assert!(page.contains("type=\"radio\" name=\"sets\" value=\"2\""));
    let csrf = hidden_csrf(&page);
    let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let http = http.clone();
        let url = url(path);
        let session = session.clone();
        async move {
            http.post(url)
                .header("cookie", session)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(
                    &fields
                        .iter()
                        .map(|(k, v)| (*k, v.as_str()))
                        .collect::<Vec<_>>(),
                ))
                .send()
                .await
                .unwrap()
        }
    };
    let res = post("/sale/application", vec![("sets", "2".into())]).await;
    assert_eq!(res.status(), 403, "no CSRF token, no change");
    let res = post(
        "/sale/application",
        vec![("sets", "2".into()), ("csrf", "0".repeat(64))],
    )
    .await;
    assert_eq!(res.status(), 403);
    let res = post(
        "/sale/application",
        vec![("sets", "2".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/sale?done=applied");
    let page = http
        .get(url("/sale?done=applied"))
        .header("cookie", session.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("role=\"status\""));
    assert!(page.contains("<strong>2セット</strong>"));
    let res = post(
        "/sale/application",
        vec![("sets", "5".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("1〜2セット"));

    // The API sees the same application.
    let session_token = session.trim_start_matches("chiiki_sale=").to_string();
    let mine: MySale = app
        .get(paths::ME_SALE, Some(&session_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.application.as_ref().map(|a| a.sets), Some(2));

    let res = post("/sale/withdraw", vec![("csrf", csrf.clone())]).await;
    assert_eq!(res.status(), 303);
    assert!(get_page().await.contains("まだお申し込みはありません"));

    // After the window: the page says so and refuses.
    app.clock.set(closed());
    let res = post(
        "/sale/application",
        vec![("sets", "1".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("申込期間（2024年10月1日〜2024年10月21日）")
    );

    // Signing out ends the session for the API too.
    let res = post("/sale/logout", vec![("csrf", csrf.clone())]).await;
    assert_eq!(res.status(), 303);
    assert!(get_page().await.contains("id=\"login\""));
    assert_eq!(
        app.get(paths::ME_SALE, Some(&session_token)).await.status(),
        401
    );
}

// ---------------------------------------------------------------------------------------------
// The command line

fn toml_with_windows(today: chrono::NaiveDate) -> String {
    let d = |days: i64| (today + Duration::days(days)).to_string();
    MIDORI_2024_TOML
        .replace("midori-2024", "cli-test")
        .replacen(
            "first_day = 2024-10-01",
            &format!("first_day = {}", d(-60)),
            1,
        )
        .replacen(
            "last_day = 2024-10-21",
            &format!("last_day = {}", d(-50)),
            1,
        )
        .replacen(
            "first_day = 2024-11-01",
            &format!("first_day = {}", d(-45)),
            2,
        )
        .replacen("last_day = 2024-12-31", &format!("last_day = {}", d(-2)), 1)
        .replacen("last_day = 2025-02-28", &format!("last_day = {}", d(-1)), 1)
        .replace("winner_payment_days = 30", "winner_payment_days = 10")
}

fn chiiki(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chiiki"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chiiki_sale_commits_draws_verifies_and_expires() {
    let dir = tempfile::tempdir().unwrap();
    let today = chiiki_core::time::jst_date(Utc::now());
    let toml = toml_with_windows(today);
    let programme_file = dir.path().join("programme.toml");
    std::fs::write(&programme_file, &toml).unwrap();
    let p = Programme::parse(&toml).unwrap();
    let url = format!("sqlite://{}/chiiki.db", dir.path().display());
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let during = p.application.start() + Duration::days(1);
    let mut ids = Vec::new();
    for i in 0..3 {
        let new = residents::NewResident::parse(
            &registration(&format!("0907000000{i}")),
            &p,
            chiiki_core::time::jst_date(during),
        )
        .unwrap();
        let id = residents::register(&db, new, settings().hash_cost, during)
            .await
            .unwrap();
        applications::apply(&db, &p, id, SetCount::parse(2, &p).unwrap(), during)
            .await
            .unwrap();
        ids.push(id);
    }
    let prog = programme_file.to_str().unwrap();
    let seed_file = dir.path().join("seed.txt");
    let seed_path = seed_file.to_str().unwrap();
    let (ok, out) = chiiki(&[
        "sale",
        "verify-draw",
        "--database-url",
        &url,
        "--programme",
        prog,
    ]);
    assert!(!ok, "nothing to verify yet: {out}");
    let (ok, out) = chiiki(&[
        "sale",
        "commit",
        "--database-url",
        &url,
        "--programme",
        prog,
        "--seed-file",
        seed_path,
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("commitment published"), "{out}");
    let seed_text = std::fs::read_to_string(&seed_file).unwrap();
    let seed = Seed::parse(&seed_text).unwrap();
    assert!(out.contains(seed.commitment().as_str()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&seed_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the seed file is private");
    }
    let (ok, out) = chiiki(&[
        "sale",
        "draw",
        "--database-url",
        &url,
        "--programme",
        prog,
        "--seed-file",
        seed_path,
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("drawn: 3 applications, 3 winners, 6 of 60000 sets"),
        "{out}"
    );
    let (ok, out) = chiiki(&[
        "sale",
        "verify-draw",
        "--database-url",
        &url,
        "--programme",
        prog,
    ]);
    assert!(ok && out.contains("the draw checks out"), "{out}");

    // What anyone downloads from GET /api/v1/sale/draw, checked offline; then tampered with.
    let record = lottery::public_record(&db, &p).await.unwrap();
    let file = dir.path().join("draw.json");
    std::fs::write(&file, serde_json::to_string_pretty(&record).unwrap()).unwrap();
    let (ok, out) = chiiki(&["sale", "verify-draw", "--file", file.to_str().unwrap()]);
    assert!(ok && out.contains("the draw checks out"), "{out}");
    let mut forged = record.clone();
    if let Some(results) = forged.results.as_mut() {
        results[0].rank = 99;
    }
    std::fs::write(&file, serde_json::to_string(&forged).unwrap()).unwrap();
    let (ok, out) = chiiki(&["sale", "verify-draw", "--file", file.to_str().unwrap()]);
    assert!(!ok && out.contains("does NOT check out"), "{out}");

    // The winners pay; the usage window ended yesterday; expiry runs once.
    let pay_at = p.sale.start() + Duration::hours(10);
    for (i, id) in ids.iter().enumerate() {
        let (order_id, _, _) = orders_of(&db, *id).await[0];
        pay_by_provider(&db, &p, order_id, &format!("cli-{i}"), pay_at)
            .await
            .unwrap();
    }
    let (ok, out) = chiiki(&[
        "sale",
        "expire",
        "--database-url",
        &url,
        "--programme",
        prog,
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("expired cli-test: 3 residents, ¥39,000 lapsed now"),
        "{out}"
    );
    let (ok, out) = chiiki(&[
        "sale",
        "expire",
        "--database-url",
        &url,
        "--programme",
        prog,
    ]);
    assert!(
        ok && out.contains("0 residents, ¥0 lapsed now; ¥39,000 lapsed in all"),
        "{out}"
    );
    assert_sale_sound(&db, &p).await;
}

/// Arbitrary JSON at every sale endpoint that takes a body, in every phase: a typed 4xx, never
/// a 500, and the ledger stays sound.
#[test]
fn no_sale_request_body_makes_the_server_fail() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, token, admin) = rt.block_on(async {
        let app = spawn_app().await;
        let admin = app.staff("admin", Role::Administrator).await;
        let (_, token) = app.resident("09059999999").await;
        (app, token, admin)
    });
    let value = common::json_bodies(
        &[
            "sets",
            "seed",
            "commitment",
            "receipt_number",
            "resident_id",
            "payment_id",
            "order_id",
            "amount",
            "x",
        ],
        vec![json!(SEED)],
    );
    let endpoints: Vec<(&str, String, String)> = vec![
        ("PUT", paths::ME_SALE_APPLICATION.into(), token.clone()),
        ("POST", paths::SALE_ORDERS.into(), token.clone()),
        ("POST", paths::ADMIN_SALE_COMMITMENT.into(), admin.clone()),
        ("POST", paths::ADMIN_SALE_DRAW.into(), admin.clone()),
        ("POST", paths::counter_payment(1), admin.clone()),
        (
            "POST",
            paths::ADMIN_SALE_COUNTER_PURCHASES.into(),
            admin.clone(),
        ),
        (
            "POST",
            paths::SALE_PROVIDER_NOTIFICATIONS.into(),
            String::new(),
        ),
    ];
    let moments = [applying(), closed(), paying(), additional()];
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(
            &(value, 0..endpoints.len(), 0..moments.len()),
            |(body, which, when)| {
                let (method, path, token) = &endpoints[which];
                app.clock.set(moments[when]);
                let status = rt.block_on(async {
                    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                    let mut req = app
                        .http
                        .request(method, app.url(path))
                        .header(IDEMPOTENCY_KEY_HEADER, format!("fuzz-{which}-{when}"))
                        .json(&body);
                    if !token.is_empty() {
                        req = req.bearer_auth(token);
                    }
                    req.send().await.unwrap().status().as_u16()
                });
                prop_assert!(status < 500, "{path} answered {status} to {body}");
                Ok(())
            },
        )
        .unwrap();
    rt.block_on(app.check_ledger());
    rt.block_on(assert_sale_sound(&app.db, &app.programme));
}
