//! Community points end to end over HTTP on a real server: staff define events, the venue page
//! shows the rotating code, residents earn by scanning it, every way of farming is refused with
//! its own error code and moves nothing, points pay at stores only when chosen, and lapsed
//! points never spend and move to the expired account once. Runs on PostgreSQL too
//! (CHIIKI_TEST_POSTGRES).

mod common;

use chiiki_backend::clock::Clock;
use chiiki_backend::points::claims;
use chiiki_core::Yen;
use chiiki_core::protocol::*;
use chiiki_core::qr::{self, EventToken};
use chrono::{DateTime, Duration, Utc};
use common::*;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

fn spec(points: i64, frequency: PointsFrequency, capacity: Option<i64>) -> PointsEventSpec {
    PointsEventSpec {
        name: "河川敷クリーン作戦".into(),
        place: "渡良瀬川河川敷".into(),
        description: String::new(),
        points: Yen(points),
        starts_at: in_usage() - Duration::hours(1),
        ends_at: in_usage() + Duration::days(3),
        capacity,
        frequency,
    }
}

async fn create_event(app: &TestApp, staff: &str, spec: &PointsEventSpec) -> PointsEvent {
    let res = app
        .post(paths::ADMIN_POINTS_EVENTS, Some(staff), None, spec)
        .await;
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.json().await.expect("event")
}

/// What the venue's tablet shows now.
async fn venue_code(app: &TestApp, event: &PointsEvent) -> EventCode {
    let res = app.get(&format!("{}/code", event.venue_path), None).await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("code")
}

async fn printed_code(app: &TestApp, staff: &str, event: &PointsEvent) -> EventCode {
    let path = format!("{}/{}/printed-code", paths::ADMIN_POINTS_EVENTS, event.id);
    let res = app.get(&path, Some(staff)).await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("printed code")
}

async fn claim(app: &TestApp, token: &str, key: &str, payload: &str) -> reqwest::Response {
    app.post(
        paths::ME_POINTS_CLAIMS,
        Some(token),
        Some(key),
        &PointsClaimRequest {
            payload: payload.into(),
        },
    )
    .await
}

async fn claimed(app: &TestApp, token: &str, key: &str, payload: &str) -> PointsClaimReceipt {
    let res = claim(app, token, key, payload).await;
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.json().await.expect("receipt")
}

async fn refused(app: &TestApp, token: &str, key: &str, payload: &str) -> (u16, ErrorCode) {
    error_code(claim(app, token, key, payload).await).await
}

async fn my_points(app: &TestApp, token: &str) -> PointsSummary {
    let res = app.get(paths::ME_POINTS, Some(token)).await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("points")
}

/// The city's side of points: what the points issuer account has given out (negative).
async fn issuer_points_balance(app: &TestApp) -> i64 {
    derived_balance(app, "issuer_points", "").await
}

async fn derived_balance(app: &TestApp, kind: &str, issue: &str) -> i64 {
    let sum = chiiki_backend::db::sum("t.amount");
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT (SELECT {sum} FROM transfers t WHERE t.credit_account = a.id)
              - (SELECT {sum} FROM transfers t WHERE t.debit_account = a.id)
         FROM accounts a WHERE a.kind = $1 AND a.issue = $2"
    )))
    .bind(kind)
    .bind(issue)
    .fetch_optional(app.db.reader())
    .await
    .expect("balance")
    .unwrap_or(0)
}

/// Signs `token` with a key that is not the city's.
fn signed_elsewhere(token: &EventToken) -> String {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let signature = key.sign(&rng, &token.signing_bytes()).unwrap();
    token.encode(signature.as_ref()).unwrap()
}

fn token_of(payload: &str) -> EventToken {
    qr::decode_event_code(payload).expect("decodes").token
}

#[tokio::test]
async fn a_resident_earns_points_by_scanning_the_venue_code() {
    let app = spawn_app().await;
    let operator = app.staff("operator", Role::Operator).await;
    let (resident_id, token) = app.resident("09011110001").await;
    let event = create_event(&app, &operator, &spec(100, PointsFrequency::Once, Some(50))).await;
    assert_eq!(event.participants, 0);

    let page = app.get(&event.venue_path, None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("河川敷クリーン作戦") && html.contains("100ポイント"),
        "{html}"
    );
    let code = venue_code(&app, &event).await;
    assert!(code.payload.starts_with("CKE:"));
    assert!(code.svg.starts_with("<?xml") || code.svg.contains("<svg"));
    assert_eq!(code.kind, EventCodeKind::Rotating);
    assert_eq!(code.valid_until - code.valid_from, Duration::seconds(30));

    let receipt = claimed(&app, &token, "claim-1", &code.payload).await;
    assert_eq!(receipt.points, Yen(100));
    assert_eq!(receipt.balance, Yen(100));
    assert_eq!(receipt.event_name, "河川敷クリーン作戦");
    assert!(
        receipt.message.contains("100ポイント"),
        "{}",
        receipt.message
    );
    // Earned on 2024-12-01 JST, spendable through 2025-12-01 JST.
    assert_eq!(
        receipt.expires_at,
        "2025-12-01T15:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );

    // The phone lost the answer and sends the same request again: the same answer, no new points.
    let again = claim(&app, &token, "claim-1", &code.payload).await;
    assert_eq!(again.status(), 201);
    let again: PointsClaimReceipt = again.json().await.unwrap();
    assert_eq!(again, receipt);

    let summary = my_points(&app, &token).await;
    assert_eq!(summary.balance, Yen(100));
    assert_eq!(
        summary.lots,
        vec![PointsLot {
            balance: Yen(100),
            expires_at: receipt.expires_at
        }]
    );
    assert_eq!(summary.activities.len(), 1);
    assert_eq!(summary.activities[0].event_id, event.id);
    assert_eq!(summary.activities[0].place, "渡良瀬川河川敷");
    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.points, Yen(100));
    assert_eq!(balance.total, Yen(0), "points are not yen until spent");
    let history: TransactionPage = app
        .get(paths::ME_TRANSACTIONS, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history.items[0].kind, TransactionKind::Points);
    assert_eq!(history.items[0].amount, Yen(100));

    // The ledger shows the points issued against the city's points issuer account.
    assert_eq!(issuer_points_balance(&app).await, -100);
    let path = format!("{}/{}", paths::ADMIN_POINTS_EVENTS, event.id);
    let seen: PointsEvent = app.get(&path, Some(&operator)).await.json().await.unwrap();
    assert_eq!(seen.participants, 1);
    assert!(resident_id > 0);
    app.check_ledger().await;
}

#[tokio::test]
async fn the_same_resident_cannot_claim_twice_at_an_event_or_twice_a_day() {
    let app = spawn_app().await;
    let operator = app.staff("operator", Role::Operator).await;
    let (_, token) = app.resident("09011110002").await;
    let once = create_event(&app, &operator, &spec(100, PointsFrequency::Once, None)).await;
    let daily = create_event(&app, &operator, &spec(10, PointsFrequency::Daily, None)).await;

    let code = venue_code(&app, &once).await;
    claimed(&app, &token, "once-1", &code.payload).await;
    app.clock.advance(Duration::minutes(5));
    let later = venue_code(&app, &once).await;
    assert_eq!(
        refused(&app, &token, "once-2", &later.payload).await,
        (409, ErrorCode::PointsAlreadyClaimed)
    );
    // The refusal is remembered under its key: a repeat gets the same answer.
    assert_eq!(
        refused(&app, &token, "once-2", &later.payload).await,
        (409, ErrorCode::PointsAlreadyClaimed)
    );

    claimed(
        &app,
        &token,
        "daily-1",
        &venue_code(&app, &daily).await.payload,
    )
    .await;
    app.clock.advance(Duration::hours(2));
    assert_eq!(
        refused(
            &app,
            &token,
            "daily-2",
            &venue_code(&app, &daily).await.payload
        )
        .await,
        (409, ErrorCode::PointsAlreadyClaimed)
    );
    app.clock.advance(Duration::days(1));
    claimed(
        &app,
        &token,
        "daily-3",
        &venue_code(&app, &daily).await.payload,
    )
    .await;

    assert_eq!(my_points(&app, &token).await.balance, Yen(120));
    assert_eq!(issuer_points_balance(&app).await, -120);
    app.check_ledger().await;
}

#[tokio::test]
async fn stale_expired_foreign_tampered_and_full_codes_are_refused_and_move_nothing() {
    let app = spawn_app().await;
    let operator = app.staff("operator", Role::Operator).await;
    let (_, alice) = app.resident("09011110003").await;
    let (_, bob) = app.resident("09011110004").await;
    let event = create_event(&app, &operator, &spec(100, PointsFrequency::Once, None)).await;

    // A screenshot passed on after the screen rotated: fine within the grace, refused after.
    let shown = venue_code(&app, &event).await;
    app.clock.set(shown.valid_until + Duration::seconds(31));
    assert_eq!(
        refused(&app, &alice, "stale", &shown.payload).await,
        (422, ErrorCode::EventCodeRotated)
    );
    app.clock.set(shown.valid_until + Duration::seconds(29));
    claimed(&app, &bob, "grace", &shown.payload).await;

    // Someone else's key, or a genuine code with one field changed: the signature fails.
    let genuine = venue_code(&app, &event).await;
    let forged = signed_elsewhere(&token_of(&genuine.payload));
    assert_eq!(
        refused(&app, &alice, "forged", &forged).await,
        (422, ErrorCode::EventCodeTampered)
    );
    let mut decoded = qr::decode_event_code(&genuine.payload).unwrap();
    decoded.token.valid_until += 86_400;
    let stretched = decoded.token.encode(&decoded.signature).unwrap();
    assert_eq!(
        refused(&app, &alice, "stretched", &stretched).await,
        (422, ErrorCode::EventCodeTampered)
    );

    // Another programme's code (another city's or year's), whoever signed it.
    let other = EventToken {
        programme: "kiryu-2025".into(),
        ..token_of(&genuine.payload)
    };
    assert_eq!(
        refused(&app, &alice, "other", &signed_elsewhere(&other)).await,
        (422, ErrorCode::EventCodeOtherProgramme)
    );

    // Not an event code at all.
    for (n, junk) in ["", "CKE:", "CKE:%%%", "https://example.jp/", "CKR:ABCD"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            refused(&app, &alice, &format!("junk-{n}"), junk).await,
            (422, ErrorCode::InvalidEventCode),
            "{junk}"
        );
    }

    // A printed code: not before the event starts, not after it ends.
    let later = PointsEventSpec {
        starts_at: in_usage() + Duration::days(1),
        ends_at: in_usage() + Duration::days(1) + Duration::hours(3),
        ..spec(50, PointsFrequency::Once, None)
    };
    let later = create_event(&app, &operator, &later).await;
    let printed = printed_code(&app, &operator, &later).await;
    assert_eq!(printed.kind, EventCodeKind::Printed);
    app.clock.set(later.starts_at - Duration::minutes(1));
    assert_eq!(
        refused(&app, &alice, "early", &printed.payload).await,
        (422, ErrorCode::EventNotStarted)
    );
    app.clock.set(later.ends_at);
    assert_eq!(
        refused(&app, &alice, "late", &printed.payload).await,
        (422, ErrorCode::EventCodeExpired)
    );
    // Staff shortened an event after printing its code: the event's own window wins.
    app.clock.set(later.starts_at + Duration::hours(1));
    let operator = app.login("operator", "staff-password").await.token;
    let shortened = PointsEventSpec {
        ends_at: later.starts_at + Duration::minutes(30),
        ..later_spec(&later)
    };
    let res = app
        .http
        .put(app.url(&format!("{}/{}", paths::ADMIN_POINTS_EVENTS, later.id)))
        .bearer_auth(&operator)
        .json(&shortened)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        refused(&app, &alice, "shortened", &printed.payload).await,
        (422, ErrorCode::EventCodeExpired)
    );

    // Capacity: the second participant is turned away.
    app.clock.set(in_usage());
    let small = create_event(&app, &operator, &spec(30, PointsFrequency::Once, Some(1))).await;
    let code = venue_code(&app, &small).await;
    claimed(&app, &alice, "small-1", &code.payload).await;
    assert_eq!(
        refused(&app, &bob, "small-2", &code.payload).await,
        (409, ErrorCode::EventFull)
    );

    // Only the two genuine claims moved points.
    assert_eq!(my_points(&app, &alice).await.balance, Yen(30));
    assert_eq!(my_points(&app, &bob).await.balance, Yen(100));
    assert_eq!(issuer_points_balance(&app).await, -130);
    app.check_ledger().await;
}

fn later_spec(event: &PointsEvent) -> PointsEventSpec {
    PointsEventSpec {
        name: event.name.clone(),
        place: event.place.clone(),
        description: event.description.clone(),
        points: event.points,
        starts_at: event.starts_at,
        ends_at: event.ends_at,
        capacity: event.capacity,
        frequency: event.frequency,
    }
}

#[tokio::test]
async fn points_pay_at_stores_only_when_the_resident_opts_in() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let (resident_id, token) = app.resident("09011110005").await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let event = create_event(&app, &admin, &spec(300, PointsFrequency::Once, None)).await;
    claimed(
        &app,
        &token,
        "earn",
        &venue_code(&app, &event).await.payload,
    )
    .await;
    app.charge(&admin, resident_id, 1000).await;

    // Without opting in, points stay put.
    let res = app.pay(&token, "pay-1", store.id, 200, "1234").await;
    assert_eq!(res.status(), 201);
    let receipt: PaymentReceipt = res.json().await.unwrap();
    assert_eq!(receipt.legs.len(), 1);
    assert_eq!(receipt.legs[0].purse, PurseKind::Charged);

    // Opting in: points first (1 pt = ¥1), the rest from charged money.
    let res = app
        .post(
            paths::PAYMENTS,
            Some(&token),
            Some("pay-2"),
            &PaymentRequest {
                store_id: Some(store.id),
                store_code: None,
                amount: Yen(500),
                pin: "1234".into(),
                use_points: Some(true),
            },
        )
        .await;
    assert_eq!(res.status(), 201);
    let receipt: PaymentReceipt = res.json().await.unwrap();
    let legs: Vec<(PurseKind, Yen)> = receipt.legs.iter().map(|l| (l.purse, l.amount)).collect();
    assert_eq!(
        legs,
        vec![
            (PurseKind::Points, Yen(300)),
            (PurseKind::Charged, Yen(200))
        ]
    );
    assert_eq!(my_points(&app, &token).await.balance, Yen(0));
    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(600));
    assert_eq!(
        chiiki_backend::ledger::store_balance(app.db.reader(), store.id)
            .await
            .unwrap(),
        Yen(700)
    );
    // The city's points issuer account still shows what was issued.
    assert_eq!(issuer_points_balance(&app).await, -300);
    app.check_ledger().await;
}

/// Midori's programme with points that lapse after 30 days, so that they lapse inside the
/// usage window and a payment can try to spend them.
async fn app_with_short_lived_points() -> TestApp {
    let text = chiiki_backend::programme::MIDORI_2024_TOML
        .replace("expiry_days = 365", "expiry_days = 30");
    let programme = chiiki_backend::programme::Programme::parse(&text).expect("programme");
    assert_eq!(programme.points.expiry_days, 30);
    spawn_app_for(
        programme,
        chiiki_backend::ops::limits::Limits::new(10_000),
        sale_settings(),
    )
    .await
}

#[tokio::test]
async fn lapsed_points_never_spend_and_the_expiry_job_moves_them_once() {
    let app = app_with_short_lived_points().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let (resident_id, token) = app.resident("09011110006").await;
    let store = app.approved_store(&admin, "みどり商店").await;
    let event = create_event(&app, &admin, &spec(100, PointsFrequency::Once, None)).await;
    let receipt = claimed(
        &app,
        &token,
        "earn",
        &venue_code(&app, &event).await.payload,
    )
    .await;
    // Earned on 2024-12-01 JST, spendable through 2024-12-31 JST.
    assert_eq!(
        receipt.expires_at,
        "2024-12-31T15:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    app.charge(&admin, resident_id, 1000).await;

    // A second before they lapse the points still count; at the instant they lapse, not.
    app.clock.set(receipt.expires_at - Duration::seconds(1));
    assert_eq!(my_points(&app, &token).await.balance, Yen(100));
    app.clock.set(receipt.expires_at);
    let summary = my_points(&app, &token).await;
    assert_eq!(summary.balance, Yen(0));
    assert!(summary.lots.is_empty());
    assert_eq!(summary.activities.len(), 1, "the history stays");

    // Even before the expiry job has run, a payment that opts in draws nothing from them.
    let res = app
        .post(
            paths::PAYMENTS,
            Some(&token),
            Some("after-lapse"),
            &PaymentRequest {
                store_id: Some(store.id),
                store_code: None,
                amount: Yen(50),
                pin: "1234".into(),
                use_points: Some(true),
            },
        )
        .await;
    assert_eq!(res.status(), 201);
    let paid: PaymentReceipt = res.json().await.unwrap();
    let legs: Vec<(PurseKind, Yen)> = paid.legs.iter().map(|l| (l.purse, l.amount)).collect();
    assert_eq!(legs, vec![(PurseKind::Charged, Yen(50))]);

    let now = app.clock.now();
    let first = claims::expire(&app.db, "staff:test", 500, now)
        .await
        .unwrap();
    assert_eq!((first.purses, first.amount), (1, Yen(100)));
    let second = claims::expire(&app.db, "staff:test", 500, now)
        .await
        .unwrap();
    assert_eq!((second.purses, second.amount), (0, Yen(0)));
    assert_eq!(derived_balance(&app, "expired", "points").await, 100);
    assert_eq!(issuer_points_balance(&app).await, -100);
    let history: TransactionPage = app
        .get(paths::ME_TRANSACTIONS, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history.items[0].kind, TransactionKind::Expiry);
    assert_eq!(history.items[0].amount, Yen(-100));
    app.check_ledger().await;
}

#[tokio::test]
async fn only_staff_define_events_and_the_venue_page_needs_its_key() {
    let app = spawn_app().await;
    let operator = app.staff("operator", Role::Operator).await;
    let viewer = app.staff("viewer", Role::Viewer).await;
    let (_, resident) = app.resident("09011110007").await;
    let good = spec(100, PointsFrequency::Once, None);
    for (who, status) in [(&resident, 403), (&viewer, 403)] {
        let res = app
            .post(paths::ADMIN_POINTS_EVENTS, Some(who), None, &good)
            .await;
        assert_eq!(res.status(), status);
    }
    let bad = PointsEventSpec {
        points: Yen(0),
        ..good.clone()
    };
    let res = app
        .post(paths::ADMIN_POINTS_EVENTS, Some(&operator), None, &bad)
        .await;
    assert_eq!(error_code(res).await, (422, ErrorCode::InvalidField));
    let backwards = PointsEventSpec {
        ends_at: good.starts_at,
        ..good.clone()
    };
    let res = app
        .post(
            paths::ADMIN_POINTS_EVENTS,
            Some(&operator),
            None,
            &backwards,
        )
        .await;
    assert_eq!(res.status(), 422);

    let event = create_event(&app, &operator, &good).await;
    let list: Vec<PointsEvent> = app
        .get(paths::ADMIN_POINTS_EVENTS, Some(&viewer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, vec![event.clone()]);
    let changed = PointsEventSpec {
        points: Yen(150),
        ..good.clone()
    };
    let path = format!("{}/{}", paths::ADMIN_POINTS_EVENTS, event.id);
    let res = app
        .http
        .put(app.url(&path))
        .bearer_auth(&operator)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    printed_code(&app, &operator, &event).await;
    // Defining, changing and printing an event are staff actions on record, by whom.
    let entries = chiiki_backend::audit::all(&app.db).await.unwrap();
    let target = format!("points_event:{}", event.id);
    for (action, points) in [
        ("points.event_create", Some(100)),
        ("points.event_update", Some(150)),
        ("points.printed_code", None),
    ] {
        let entry = entries
            .iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("{action} not audited"));
        assert_eq!(entry.target, target);
        assert!(entry.actor.starts_with("staff:"), "{}", entry.actor);
        if let Some(points) = points {
            let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
            assert_eq!(detail["points"], points);
        }
    }
    assert_eq!(
        chiiki_backend::audit::verify(&app.db)
            .await
            .unwrap()
            .problems,
        vec![]
    );
    let res = app.get(paths::ADMIN_POINTS_EVENTS, Some(&resident)).await;
    assert_eq!(res.status(), 403);
    let res = app
        .get(
            &format!("{}/999/printed-code", paths::ADMIN_POINTS_EVENTS),
            Some(&operator),
        )
        .await;
    assert_eq!(error_code(res).await, (404, ErrorCode::UnknownEvent));

    let wrong_key = format!("/venue/points/{}/{}", event.id, "0".repeat(32));
    assert_eq!(app.get(&wrong_key, None).await.status(), 404);
    assert_eq!(
        app.get(&format!("{wrong_key}/code"), None).await.status(),
        404
    );
    let res = claim(&app, &resident, "no-body", "").await;
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            paths::ME_POINTS_CLAIMS,
            Some(&resident),
            None,
            &PointsClaimRequest {
                payload: "x".into(),
            },
        )
        .await;
    assert_eq!(error_code(res).await.1, ErrorCode::IdempotencyKeyMissing);
    let res = app.get(paths::ME_POINTS, Some(&operator)).await;
    assert_eq!(res.status(), 403);

    let doc: serde_json::Value = app.get("/openapi.json", None).await.json().await.unwrap();
    for path in [
        paths::ME_POINTS,
        paths::ME_POINTS_CLAIMS,
        paths::ADMIN_POINTS_EVENTS,
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
}
