//! The HTTP API end to end: the real server on a random port, a real database (SQLite, or
//! PostgreSQL when CHIIKI_TEST_POSTGRES is set), every endpoint's happy path and the ways
//! requests go wrong.

mod common;

use chiiki_core::Yen;
use chiiki_core::protocol::*;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_readiness_and_openapi_are_served() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    let doc: serde_json::Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/payments",
        "/api/v1/me/balance",
        "/api/v1/admin/charges",
        "/api/v1/payments/{id}/refunds",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    let info: ProgrammeInfo = app.get(paths::PROGRAMME, None).await.json().await.unwrap();
    assert_eq!(info.set_value, Yen(6500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_paths_and_methods_get_json_errors() {
    let app = spawn_app().await;
    assert_eq!(
        error_code(app.get("/api/v1/nothing", None).await).await,
        (404, ErrorCode::NotFound)
    );
    let res = app
        .http
        .delete(app.url(paths::PAYMENTS))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, (405, ErrorCode::MethodNotAllowed));
    assert_eq!(
        error_code(app.get("/api/v1/stores/abc", None).await).await,
        (404, ErrorCode::NotFound)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registration_validates_every_field_and_refuses_duplicates() {
    let app = spawn_app().await;
    let res = app
        .post(paths::RESIDENTS, None, None, &registration("09011112222"))
        .await;
    assert_eq!(res.status(), 201);
    let again = app
        .post(paths::RESIDENTS, None, None, &registration("090-1111-2222"))
        .await;
    assert_eq!(error_code(again).await, (409, ErrorCode::LoginTaken));

    let mut outside = registration("09011113333");
    outside.postal_code = "371-0001".into();
    let res = app.post(paths::RESIDENTS, None, None, &outside).await;
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.error, ErrorCode::InvalidField);
    assert!(body.message.starts_with("postal_code"), "{}", body.message);

    let mut bad_pin = registration("09011114444");
    bad_pin.pin = "12".into();
    assert_eq!(
        error_code(app.post(paths::RESIDENTS, None, None, &bad_pin).await).await,
        (422, ErrorCode::InvalidField)
    );

    let mut extra = serde_json::to_value(registration("09011115555")).unwrap();
    extra["nickname"] = json!("hana");
    assert_eq!(
        error_code(app.post(paths::RESIDENTS, None, None, &extra).await).await,
        (422, ErrorCode::UnknownField)
    );

    let mut missing = serde_json::to_value(registration("09011116666")).unwrap();
    missing.as_object_mut().unwrap().remove("pin");
    assert_eq!(
        error_code(app.post(paths::RESIDENTS, None, None, &missing).await).await,
        (422, ErrorCode::MissingField)
    );

    let res = app
        .http
        .post(app.url(paths::RESIDENTS))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, (400, ErrorCode::MalformedJson));

    let res = app
        .http
        .post(app.url(paths::RESIDENTS))
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res).await,
        (415, ErrorCode::UnsupportedMediaType)
    );

    let huge = "x".repeat(100 * 1024);
    let res = app
        .http
        .post(app.url(paths::RESIDENTS))
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, (413, ErrorCode::PayloadTooLarge));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_issues_tokens_and_registers_device_keys() {
    use base64::Engine as _;
    let app = spawn_app().await;
    app.post(paths::RESIDENTS, None, None, &registration("09022223333"))
        .await;
    let wrong = app
        .post(
            paths::SESSIONS,
            None,
            None,
            &CreateSession {
                login: "09022223333".into(),
                password: "not-the-password".into(),
                device_name: "phone".into(),
                public_key: None,
            },
        )
        .await;
    assert_eq!(
        error_code(wrong).await,
        (401, ErrorCode::InvalidCredentials)
    );
    let nobody = app
        .post(
            paths::SESSIONS,
            None,
            None,
            &CreateSession {
                login: "nobody".into(),
                password: "whatever-password".into(),
                device_name: "phone".into(),
                public_key: None,
            },
        )
        .await;
    assert_eq!(
        error_code(nobody).await,
        (401, ErrorCode::InvalidCredentials)
    );

    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    use ring::signature::KeyPair;
    let public_key = base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref());
    let res = app
        .post(
            paths::SESSIONS,
            None,
            None,
            &CreateSession {
                login: "09022223333".into(),
                password: "midori-password".into(),
                device_name: "Hanako's phone".into(),
                public_key: Some(public_key),
            },
        )
        .await;
    assert_eq!(res.status(), 201);
    let session: SessionCreated = res.json().await.unwrap();
    assert_eq!(session.role, Role::Resident);
    let stored: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT public_key FROM devices WHERE id = $1")
            .bind(session.device_id)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    assert_eq!(stored.as_deref(), Some(pair.public_key().as_ref()));
    let tokens: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_all(app.db.reader())
        .await
        .unwrap();
    assert!(
        !tokens.contains(&session.token),
        "tokens are stored only as hashes"
    );

    let bad_key = app
        .post(
            paths::SESSIONS,
            None,
            None,
            &CreateSession {
                login: "09022223333".into(),
                password: "midori-password".into(),
                device_name: "phone".into(),
                public_key: Some("AAAA".into()),
            },
        )
        .await;
    assert_eq!(
        error_code(bad_key).await,
        (422, ErrorCode::InvalidPublicKey)
    );

    let me: Me = app
        .get(paths::ME, Some(&session.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me.resident.unwrap().phone, "09022223333");
    assert_eq!(
        error_code(app.get(paths::ME, None).await).await,
        (401, ErrorCode::Unauthorized)
    );
    assert_eq!(
        error_code(app.get(paths::ME, Some("forged")).await).await,
        (401, ErrorCode::Unauthorized)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resident_charges_pays_and_sees_history() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let (resident_id, token) = app.resident("09033334444").await;

    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(0));
    let charge = app.charge(&admin, resident_id, 3000).await;
    assert_eq!(charge.balance_after, Yen(3000));

    let res = app.pay(&token, "pay-1", store.id, 1200, "1234").await;
    assert_eq!(res.status(), 201);
    let receipt: PaymentReceipt = res.json().await.unwrap();
    assert_eq!(receipt.balance_after, Yen(1800));
    assert_eq!(receipt.store_name, "みどり商店");
    assert_eq!(
        receipt.legs,
        vec![Leg {
            purse: PurseKind::Charged,
            issue: None,
            amount: Yen(1200)
        }]
    );

    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(1800));

    for i in 0..3 {
        assert_eq!(
            app.pay(&token, &format!("small-{i}"), store.id, 100, "1234")
                .await
                .status(),
            201
        );
    }
    let page: TransactionPage = app
        .get(&format!("{}?limit=2", paths::ME_TRANSACTIONS), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.items[0].id > page.items[1].id, "newest first");
    assert_eq!(page.items[0].amount, Yen(-100));
    let cursor = page.next_cursor.expect("more pages");
    let rest: TransactionPage = app
        .get(
            &format!("{}?limit=10&cursor={cursor}", paths::ME_TRANSACTIONS),
            Some(&token),
        )
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<_> = rest.items.iter().map(|t| (t.kind, t.amount)).collect();
    assert_eq!(
        kinds,
        vec![
            (TransactionKind::Payment, Yen(-100)),
            (TransactionKind::Payment, Yen(-1200)),
            (TransactionKind::Charge, Yen(3000))
        ]
    );
    assert!(rest.next_cursor.is_none());
    let bad = app
        .get(
            &format!("{}?cursor=zzz", paths::ME_TRANSACTIONS),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(bad).await, (422, ErrorCode::InvalidField));
    app.check_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_are_exactly_once_per_idempotency_key() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let (resident_id, token) = app.resident("09044445555").await;
    app.charge(&admin, resident_id, 5000).await;

    let first = app.pay(&token, "same-key", store.id, 1000, "1234").await;
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();
    let again = app.pay(&token, "same-key", store.id, 1000, "1234").await;
    assert_eq!(again.status(), 201);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(first, again, "a repeat gets the first response");
    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(4000), "charged once");

    let conflict = app.pay(&token, "same-key", store.id, 2000, "1234").await;
    assert_eq!(
        error_code(conflict).await,
        (409, ErrorCode::IdempotencyConflict)
    );
    let missing = app
        .post(
            paths::PAYMENTS,
            Some(&token),
            None,
            &json!({"store_id": store.id, "amount": 100, "pin": "1234"}),
        )
        .await;
    assert_eq!(
        error_code(missing).await,
        (400, ErrorCode::IdempotencyKeyMissing)
    );

    // Keys are scoped per caller: another resident may use the same key.
    let (other_id, other) = app.resident("09044446666").await;
    app.charge(&admin, other_id, 1000).await;
    assert_eq!(
        app.pay(&other, "same-key", store.id, 1000, "1234")
            .await
            .status(),
        201
    );

    // Refusals are remembered too: the repeat of a wrong-PIN request does not count twice.
    let wrong = app.pay(&token, "wrong-once", store.id, 100, "9999").await;
    assert_eq!(error_code(wrong).await, (422, ErrorCode::WrongPin));
    let wrong = app.pay(&token, "wrong-once", store.id, 100, "9999").await;
    assert_eq!(error_code(wrong).await, (422, ErrorCode::WrongPin));
    let failures: i64 = sqlx::query_scalar("SELECT pin_failures FROM residents WHERE id = $1")
        .bind(resident_id)
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(failures, 1);

    let payments: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM operations WHERE kind = 'payment'")
            .fetch_one(app.db.reader())
            .await
            .unwrap();
    assert_eq!(payments, 2);
    app.check_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_bad_payment_gets_its_own_code_and_charges_nothing() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let (resident_id, token) = app.resident("09055556666").await;
    app.charge(&admin, resident_id, 1000).await;

    let cases: Vec<(serde_json::Value, u16, ErrorCode)> = vec![
        (
            json!({"store_id": store.id, "amount": 0, "pin": "1234"}),
            422,
            ErrorCode::AmountNotPositive,
        ),
        (
            json!({"store_id": store.id, "amount": -500, "pin": "1234"}),
            422,
            ErrorCode::AmountNotPositive,
        ),
        (
            json!({"store_id": store.id, "amount": 9_000_000_000_000i64, "pin": "1234"}),
            422,
            ErrorCode::AmountTooLarge,
        ),
        (
            json!({"store_id": store.id, "amount": 1.5, "pin": "1234"}),
            422,
            ErrorCode::InvalidField,
        ),
        (
            json!({"store_id": store.id, "amount": "100", "pin": "1234"}),
            422,
            ErrorCode::InvalidField,
        ),
        (
            json!({"store_id": 999_999, "amount": 100, "pin": "1234"}),
            404,
            ErrorCode::UnknownStore,
        ),
        (
            json!({"amount": 100, "pin": "1234"}),
            422,
            ErrorCode::InvalidField,
        ),
        (
            json!({"store_code": "https://example.com/", "amount": 100, "pin": "1234"}),
            422,
            ErrorCode::InvalidStoreCode,
        ),
        (
            json!({"store_id": store.id, "amount": 5000, "pin": "1234"}),
            422,
            ErrorCode::InsufficientBalance,
        ),
        (
            json!({"store_id": store.id, "amount": 100, "pin": "1234", "tip": 10}),
            422,
            ErrorCode::UnknownField,
        ),
    ];
    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        let res = app
            .post(
                paths::PAYMENTS,
                Some(&token),
                Some(&format!("bad-{i}")),
                &body,
            )
            .await;
        assert_eq!(error_code(res).await, (status, code), "case {i}: {body}");
    }
    // A store that was never approved cannot take payments.
    let res = app
        .post(
            paths::ADMIN_STORES,
            Some(&admin),
            None,
            &store_request("未承認の店"),
        )
        .await;
    let pending: StoreDetail = res.json().await.unwrap();
    let res = app
        .pay(&token, "pending-store", pending.id, 100, "1234")
        .await;
    assert_eq!(error_code(res).await, (422, ErrorCode::StoreNotAccepting));

    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(1000), "nothing was charged");
    app.check_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_wrong_pins_lock_payments_for_thirty_minutes() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let (resident_id, token) = app.resident("09066667777").await;
    app.charge(&admin, resident_id, 1000).await;
    for i in 0..4 {
        let res = app
            .pay(&token, &format!("wrong-{i}"), store.id, 100, "0000")
            .await;
        assert_eq!(error_code(res).await, (422, ErrorCode::WrongPin));
    }
    let res = app.pay(&token, "wrong-4", store.id, 100, "0000").await;
    assert_eq!(error_code(res).await, (423, ErrorCode::PinLocked));
    // Even the right PIN is refused while locked.
    let res = app
        .pay(&token, "right-while-locked", store.id, 100, "1234")
        .await;
    assert_eq!(error_code(res).await, (423, ErrorCode::PinLocked));
    app.clock.advance(chrono::Duration::minutes(29));
    let res = app.pay(&token, "still-locked", store.id, 100, "1234").await;
    assert_eq!(error_code(res).await, (423, ErrorCode::PinLocked));
    app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(
        app.pay(&token, "unlocked", store.id, 100, "1234")
            .await
            .status(),
        201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pins_stored_as_argon2_still_work_and_move_to_the_keyed_hash() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let (resident_id, token) = app.resident("09066668888").await;
    app.charge(&admin, resident_id, 1000).await;
    let pin_hash = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT pin_hash FROM residents WHERE id = $1")
                .bind(resident_id)
                .fetch_one(db.reader())
                .await
                .unwrap()
        }
    };
    assert!(pin_hash(&app).await.starts_with("pin-hmac$"));
    // A row written before ADR 0005.
    let old =
        chiiki_backend::crypto::hash_pin_argon2("1234", &app.db.vault().pin_pepper()).unwrap();
    sqlx::query("UPDATE residents SET pin_hash = $1 WHERE id = $2")
        .bind(&old)
        .bind(resident_id)
        .execute(app.db.writer())
        .await
        .unwrap();
    let res = app.pay(&token, "old-wrong", store.id, 100, "4321").await;
    assert_eq!(error_code(res).await, (422, ErrorCode::WrongPin));
    assert_eq!(pin_hash(&app).await, old, "a wrong PIN rewrites nothing");
    let res = app.pay(&token, "old-right", store.id, 100, "1234").await;
    assert_eq!(res.status(), 201);
    let new = pin_hash(&app).await;
    assert!(new.starts_with("pin-hmac$"), "{new}");
    let res = app.pay(&token, "new-wrong", store.id, 100, "4321").await;
    assert_eq!(error_code(res).await, (422, ErrorCode::WrongPin));
    let res = app.pay(&token, "new-right", store.id, 100, "1234").await;
    assert_eq!(res.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_outside_the_usage_window_are_refused() {
    use chrono::TimeZone;
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let (resident_id, token) = app.resident("09077778888").await;
    app.charge(&admin, resident_id, 1000).await;
    // 2025-03-01 00:00 JST: the day after the usage window.
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2025, 2, 28, 15, 0, 0).unwrap());
    let res = app.pay(&token, "late", store.id, 100, "1234").await;
    assert_eq!(error_code(res).await, (422, ErrorCode::ProgrammeExpired));
    // 2024-10-31 23:59:59 JST: the second before it.
    app.clock.set(
        chrono::Utc
            .with_ymd_and_hms(2024, 10, 31, 14, 59, 59)
            .unwrap(),
    );
    let res = app.pay(&token, "early", store.id, 100, "1234").await;
    assert_eq!(error_code(res).await, (422, ErrorCode::ProgrammeNotStarted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refunds_follow_the_rules_and_the_roles() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let viewer = app.staff("viewer", Role::Viewer).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let other_store = app.approved_store(&admin, "となりの店").await;
    for (id, login) in [(store.id, "S0001"), (other_store.id, "S0002")] {
        let res = app
            .post(
                &paths::store_staff(id),
                Some(&admin),
                None,
                &CreateStoreStaff {
                    login: login.into(),
                    password: "store-password".into(),
                },
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let cashier = app.login("S0001", "store-password").await.token;
    let neighbour = app.login("S0002", "store-password").await.token;
    let (resident_id, token) = app.resident("09088889999").await;
    app.charge(&admin, resident_id, 3000).await;
    let receipt: PaymentReceipt = app
        .pay(&token, "p", store.id, 2000, "1234")
        .await
        .json()
        .await
        .unwrap();
    let path = paths::refunds(receipt.payment_id);
    let refund = |amount: i64| RefundRequest {
        amount: Yen(amount),
        reason: "返品".into(),
    };

    assert_eq!(
        error_code(
            app.post(&path, Some(&token), Some("r0"), &refund(100))
                .await
        )
        .await,
        (403, ErrorCode::Forbidden)
    );
    assert_eq!(
        error_code(
            app.post(&path, Some(&viewer), Some("r0"), &refund(100))
                .await
        )
        .await,
        (403, ErrorCode::Forbidden)
    );
    assert_eq!(
        error_code(
            app.post(&path, Some(&neighbour), Some("r0"), &refund(100))
                .await
        )
        .await,
        (404, ErrorCode::UnknownPayment)
    );
    assert_eq!(
        error_code(app.post(&path, Some(&cashier), None, &refund(100)).await).await,
        (400, ErrorCode::IdempotencyKeyMissing)
    );

    let res = app
        .post(&path, Some(&cashier), Some("r1"), &refund(500))
        .await;
    assert_eq!(res.status(), 201);
    let first: RefundReceipt = res.json().await.unwrap();
    assert_eq!(first.refunded_total, Yen(500));
    assert_eq!(
        first.legs,
        vec![Leg {
            purse: PurseKind::Charged,
            issue: None,
            amount: Yen(500)
        }]
    );
    let replay: RefundReceipt = app
        .post(&path, Some(&cashier), Some("r1"), &refund(500))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replay, first);
    let too_much = app
        .post(&path, Some(&admin), Some("r2"), &refund(1600))
        .await;
    assert_eq!(
        error_code(too_much).await,
        (422, ErrorCode::RefundExceedsPayment)
    );
    let rest: RefundReceipt = app
        .post(&path, Some(&admin), Some("r3"), &refund(1500))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest.refunded_total, Yen(2000));
    let res = app
        .post(
            &paths::refunds(999_999),
            Some(&admin),
            Some("r4"),
            &refund(1),
        )
        .await;
    assert_eq!(error_code(res).await, (404, ErrorCode::UnknownPayment));

    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(3000));
    let history: TransactionPage = app
        .get(paths::ME_TRANSACTIONS, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history.items[0].kind, TransactionKind::Refund);
    assert_eq!(history.items[0].payment_id, Some(receipt.payment_id));
    app.check_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_operators_run_the_programme() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let operator = app.staff("operator", Role::Operator).await;
    let viewer = app.staff("viewer", Role::Viewer).await;
    let (resident_id, resident) = app.resident("09099990000").await;
    let charge = json!({"resident_id": resident_id, "amount": 1000, "method": "cash", "receipt_number": "R-9"});
    for token in [&viewer, &resident] {
        let res = app
            .post(paths::ADMIN_CHARGES, Some(token), Some("c"), &charge)
            .await;
        assert_eq!(error_code(res).await, (403, ErrorCode::Forbidden));
        let res = app
            .post(paths::ADMIN_STORES, Some(token), None, &store_request("店"))
            .await;
        assert_eq!(error_code(res).await, (403, ErrorCode::Forbidden));
    }
    assert_eq!(
        app.post(paths::ADMIN_CHARGES, Some(&operator), Some("c"), &charge)
            .await
            .status(),
        201
    );
    let unknown =
        json!({"resident_id": 424242, "amount": 1000, "method": "cash", "receipt_number": "R-9"});
    let res = app
        .post(paths::ADMIN_CHARGES, Some(&operator), Some("c2"), &unknown)
        .await;
    assert_eq!(error_code(res).await, (404, ErrorCode::UnknownResident));
    let absurd = json!({"resident_id": resident_id, "amount": 100_000_000, "method": "cash", "receipt_number": "R-9"});
    let res = app
        .post(paths::ADMIN_CHARGES, Some(&operator), Some("c3"), &absurd)
        .await;
    assert_eq!(error_code(res).await, (422, ErrorCode::AmountTooLarge));

    let mut bad_store = store_request("店");
    bad_store.romanised_name = "みどり".into();
    let res = app
        .post(paths::ADMIN_STORES, Some(&admin), None, &bad_store)
        .await;
    assert_eq!(error_code(res).await, (422, ErrorCode::InvalidField));
    let store = app.approved_store(&admin, "みどり商店").await;
    let res = app
        .post(&paths::approve_store(store.id), Some(&admin), None, &())
        .await;
    assert_eq!(error_code(res).await, (409, ErrorCode::InvalidTransition));
    let res = app
        .post(&paths::approve_store(777_777), Some(&admin), None, &())
        .await;
    assert_eq!(error_code(res).await, (404, ErrorCode::UnknownStore));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_directory_lists_approved_stores_and_what_changed() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let approved = app.approved_store(&admin, "みどり商店").await;
    let res = app
        .post(
            paths::ADMIN_STORES,
            Some(&admin),
            None,
            &store_request("審査中の店"),
        )
        .await;
    let pending: StoreDetail = res.json().await.unwrap();
    // A sync at the very instant of a change re-delivers it (harmless); move past it.
    app.clock.advance(chrono::Duration::minutes(1));

    let dir: StoreDirectory = app.get(paths::STORES, None).await.json().await.unwrap();
    let ids: Vec<_> = dir.stores.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![approved.id]);
    assert_eq!(dir.stores[0].industry, Industry::Supermarket);
    let detail: StoreDetail = app
        .get(&paths::store(approved.id), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail.status, StoreStatus::Approved);
    assert_eq!(
        error_code(app.get(&paths::store(pending.id), None).await).await,
        (404, ErrorCode::UnknownStore)
    );

    app.clock.advance(chrono::Duration::minutes(5));
    let since = dir
        .as_of
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let later = app.approved_store(&admin, "新しい店").await;
    let url = format!("{}?since={}", paths::STORES, urlencode(&since));
    let changed: StoreDirectory = app.get(&url, None).await.json().await.unwrap();
    let ids: Vec<_> = changed.stores.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![later.id]);
    let res = app
        .get(&format!("{}?since=yesterday", paths::STORES), None)
        .await;
    assert_eq!(error_code(res).await, (400, ErrorCode::InvalidField));
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resident_sees_only_their_own_money() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let (a_id, a) = app.resident("09012340001").await;
    let (_, b) = app.resident("09012340002").await;
    app.charge(&admin, a_id, 2000).await;
    app.pay(&a, "a1", store.id, 500, "1234").await;
    let b_balance: Balance = app
        .get(paths::ME_BALANCE, Some(&b))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b_balance.total, Yen(0));
    let b_history: TransactionPage = app
        .get(paths::ME_TRANSACTIONS, Some(&b))
        .await
        .json()
        .await
        .unwrap();
    assert!(b_history.items.is_empty());
    // Store staff and city staff have no resident balance.
    let res = app.get(paths::ME_BALANCE, Some(&admin)).await;
    assert_eq!(error_code(res).await, (403, ErrorCode::Forbidden));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_hundred_parallel_payments_never_overdraw_one_resident() {
    let app = std::sync::Arc::new(spawn_app().await);
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let (resident_id, token) = app.resident("09050505050").await;
    app.charge(&admin, resident_id, 5000).await; // covers 50 payments of ¥100
    let mut tasks = Vec::new();
    for i in 0..200 {
        let app = app.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            app.pay(&token, &format!("par-{i}"), store.id, 100, "1234")
                .await
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => ok += 1,
            422 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, refused), (50, 150), "on {}", engine_name(&app.db));
    // 200 payments at once: they shared transactions (group commit), on both engines.
    let stats = app.group_commit.stats();
    assert!(stats.requests >= 200, "{stats:?}");
    assert!(stats.batches < stats.requests, "{stats:?}");
    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(0));
    assert_eq!(
        chiiki_backend::ledger::store_balance(app.db.reader(), store.id)
            .await
            .unwrap(),
        Yen(5000)
    );
    app.check_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scanned_store_code_names_the_store_to_pay() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let (resident_id, token) = app.resident("09031313131").await;
    app.charge(&admin, resident_id, 3000).await;
    let code: StoreCode = app
        .get(&paths::store_code(store.id), None)
        .await
        .json()
        .await
        .unwrap();
    let decoded = chiiki_core::qr::decode_merchant_code(&code.payload, "midori-2024").unwrap();
    assert_eq!(decoded.store_id, store.id);
    assert_eq!(decoded.name_ja.as_deref(), Some("みどり商店"));

    let pay = |key: &str, payload: String, amount: i64| {
        let body = PaymentRequest {
            store_id: None,
            store_code: Some(payload),
            amount: Yen(amount),
            pin: "1234".into(),
            use_points: None,
        };
        let key = key.to_string();
        let app = &app;
        let token = token.clone();
        async move {
            app.post(paths::PAYMENTS, Some(&token), Some(&key), &body)
                .await
        }
    };
    let res = pay("by-code", code.payload.clone(), 1200).await;
    assert_eq!(res.status(), 201);
    let receipt: PaymentReceipt = res.json().await.unwrap();
    assert_eq!(
        (receipt.store_id, receipt.balance_after),
        (store.id, Yen(1800))
    );

    // An amount code fixes the amount.
    let spec = chiiki_backend::stores::code_spec(&store, &app.programme);
    let amount_code =
        chiiki_core::qr::encode_amount_code(&spec, Yen(500), Some("B-1"), None).unwrap();
    let res = pay("wrong-amount", amount_code.clone(), 600).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::InvalidField));
    assert_eq!(pay("right-amount", amount_code, 500).await.status(), 201);

    // A code of another programme, and a damaged one, are refused.
    let other = chiiki_core::qr::StoreCodeSpec {
        programme_id: "kiryu-2024".into(),
        ..spec
    };
    let res = pay(
        "other",
        chiiki_core::qr::encode_store_code(&other).unwrap(),
        100,
    )
    .await;
    assert_eq!(error_code(res).await, (422, ErrorCode::InvalidStoreCode));
    let mut damaged = code.payload.clone();
    damaged.replace_range(20..21, "9");
    let res = pay("damaged", damaged, 100).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::InvalidStoreCode));
    app.check_ledger().await;

    let res = app
        .post(
            paths::ADMIN_STORES,
            Some(&admin),
            None,
            &store_request("審査中"),
        )
        .await;
    let pending: StoreDetail = res.json().await.unwrap();
    assert_eq!(
        error_code(app.get(&paths::store_code(pending.id), None).await).await,
        (404, ErrorCode::UnknownStore)
    );
}

/// Arbitrary JSON at every endpoint that takes a body: a typed 4xx, never a 500.
#[test]
fn no_request_body_makes_the_server_fail() {
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
        let (_, token) = app.resident("09087878787").await;
        (app, token, admin)
    });
    let value = common::json_bodies(
        &[
            "store_id",
            "store_code",
            "amount",
            "pin",
            "use_points",
            "resident_id",
            "method",
            "receipt_number",
            "reason",
            "login",
            "password",
            "device_name",
            "public_key",
            "name",
            "kana",
            "birth_date",
            "phone",
            "industry",
            "x",
        ],
        vec![json!("1234"), json!(1)],
    );
    let endpoints = [
        (paths::RESIDENTS.to_string(), None),
        (paths::SESSIONS.to_string(), None),
        (paths::PAYMENTS.to_string(), Some(token.clone())),
        (paths::refunds(1), Some(admin.clone())),
        (paths::ADMIN_CHARGES.to_string(), Some(admin.clone())),
        (paths::ADMIN_STORES.to_string(), Some(admin.clone())),
        (paths::store_staff(1), Some(admin.clone())),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&(value, 0..endpoints.len()), |(body, which)| {
            let (path, token) = &endpoints[which];
            let status = rt.block_on(async {
                app.post(path, token.as_deref(), Some("fuzz"), &body)
                    .await
                    .status()
                    .as_u16()
            });
            prop_assert!(status < 500, "{path} answered {status} to {body}");
            Ok(())
        })
        .unwrap();
    rt.block_on(app.check_ledger());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logins_are_rate_limited_per_address_with_retry_after() {
    let app = spawn_app_with_limits(chiiki_backend::ops::limits::Limits::default()).await;
    let body = CreateSession {
        login: "nobody".into(),
        password: "wrong-password".into(),
        device_name: "script".into(),
        public_key: None,
    };
    let attempt = || app.post(paths::SESSIONS, None, None, &body);
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(attempt().await.status().as_u16());
    }
    // Ten tries per login name in a burst, then 429.
    assert!(statuses[..10].iter().all(|s| *s == 401), "{statuses:?}");
    let res = attempt().await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(error_code(res).await, (429, ErrorCode::RateLimited));
    // After the wait, the next try is heard again.
    app.clock.advance(chrono::Duration::seconds(wait as i64));
    assert_eq!(attempt().await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operations_endpoints_tell_how_the_service_is_doing() {
    let app = spawn_app().await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers().contains_key("x-request-id"));
    app.get("/api/v1/nothing", None).await;
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("chiiki_http_requests_total"), "{metrics}");
    assert!(metrics.contains("chiiki_db_pool_connections"), "{metrics}");
    app.draining
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        error_code(app.get("/readyz", None).await).await,
        (503, ErrorCode::Unavailable)
    );
    assert_eq!(
        app.get("/healthz", None).await.status(),
        200,
        "alive while draining"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sale_requests_are_rate_limited_per_account() {
    let app = spawn_app_with_limits(chiiki_backend::ops::limits::Limits::default()).await;
    let (_, token) = app.resident("09064646464").await;
    let mut statuses = Vec::new();
    for _ in 0..21 {
        let res = app
            .http
            .put(app.url("/api/v1/me/sale/application"))
            .bearer_auth(&token)
            .json(&json!({"sets": 1}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    // Twenty changes in a burst are heard (the window is closed, so they are refused), then 429.
    assert!(statuses[..20].iter().all(|s| *s != 429), "{statuses:?}");
    assert_eq!(statuses[20], 429, "{statuses:?}");
}
