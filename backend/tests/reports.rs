//! Reports: a small programme is built through the real registration, store and ledger
//! functions (and HTTP where people use it), then every figure of the monthly and final
//! reports is checked against sums computed here, independently, from the raw transfers
//! table. Runs on SQLite, and on PostgreSQL when CHIIKI_TEST_POSTGRES is set.

mod common;

use chiiki_backend::db::Db;
use chiiki_backend::ledger::{self, ChargeInput, PaymentChannel, PaymentInput, RefundInput};
use chiiki_backend::programme::Programme;
use chiiki_backend::reports::{self, Report, ResidentCount, Spending};
use chiiki_core::Yen;
use chiiki_core::protocol::*;
use chiiki_core::time::jst;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use common::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Cursor;

/// An instant given in JST.
fn jst_at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    jst()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// Who the residents are: (birth date, district, postal code, the age band the test expects
/// on 2024-11-30 and later in the programme).
fn people() -> Vec<(NaiveDate, &'static str, &'static str, &'static str)> {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    let mut out = Vec::new();
    for _ in 0..7 {
        out.push((d(1950, 4, 1), "大間々町", "376-0101", "70代"));
    }
    for _ in 0..3 {
        out.push((d(1990, 6, 15), "笠懸町", "379-2311", "30代"));
    }
    for _ in 0..2 {
        out.push((d(2000, 1, 10), "東町", "376-0301", "20代"));
    }
    out
}

struct Built {
    residents: Vec<i64>,
    /// resident id → (age band, district)
    resident_attrs: HashMap<i64, (&'static str, &'static str)>,
    /// store id → (industry, district, size class)
    store_attrs: HashMap<i64, (&'static str, &'static str, &'static str)>,
    /// (registered at, resident) and device logins
    registered: Vec<DateTime<Utc>>,
    installs: Vec<DateTime<Utc>>,
    sets: Vec<(DateTime<Utc>, i64)>,
    approved_stores: i64,
}

fn store_application(
    name: &str,
    industry: Industry,
    size: SizeClass,
    district: &str,
    postal: &str,
) -> StoreApplication {
    StoreApplication {
        name: name.into(),
        kana: "みどりてん".into(),
        romanised_name: "MIDORI TEN".into(),
        industry,
        size_class: size,
        district: district.into(),
        postal_code: postal.into(),
        address: "1-1-1".into(),
        representative: "緑 一郎".into(),
        contact_name: "緑 花子".into(),
        phone: "0277-00-0000".into(),
        email: None,
        bank_account: BankAccountInput {
            bank_code: "0128".into(),
            branch_code: "141".into(),
            account_type: AccountType::Ordinary,
            account_number: "123456".into(),
            holder_name: "株式会社みどり".into(),
        },
    }
}

async fn pay(
    db: &Db,
    p: &Programme,
    resident: i64,
    store: i64,
    amount: i64,
    use_points: bool,
    at: DateTime<Utc>,
) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let input = PaymentInput {
        resident_id: resident,
        store_id: store,
        amount: Yen(amount),
        use_points,
        programme: p,
        channel: PaymentChannel::ResidentApp,
    };
    let receipt = ledger::pay(&mut tx, input, at).await.unwrap();
    tx.commit().await.unwrap();
    receipt.payment_id
}

async fn build(app: &TestApp) -> Built {
    let p = app.programme.clone();
    let db = &app.db;
    let admin = app.staff("admin", Role::Administrator).await;

    // Stores: a small supermarket, a large restaurant (both by application), and a bookshop
    // the city added itself (no size class).
    let mut store_attrs = HashMap::new();
    let mut stores = Vec::new();
    for (name, industry, size, district, postal, labels) in [
        (
            "みどりマート",
            Industry::Supermarket,
            SizeClass::Small,
            "大間々町",
            "376-0101",
            ("スーパー・食料品", "大間々町", "中小店舗"),
        ),
        (
            "かさかけ亭",
            Industry::Restaurant,
            SizeClass::Large,
            "笠懸町",
            "379-2311",
            ("飲食店", "笠懸町", "大型店"),
        ),
    ] {
        app.clock.set(jst_at(2024, 10, 1, 10, 0));
        let res = app
            .post(
                paths::STORE_APPLICATIONS,
                None,
                None,
                &store_application(name, industry, size, district, postal),
            )
            .await;
        assert_eq!(
            res.status(),
            201,
            "{}",
            res.text().await.unwrap_or_default()
        );
        let received: StoreApplicationReceived = res.json().await.unwrap();
        let res = app
            .post(
                &paths::approve_store(received.store_id),
                Some(&admin),
                None,
                &(),
            )
            .await;
        assert_eq!(res.status(), 200);
        store_attrs.insert(received.store_id, labels);
        stores.push(received.store_id);
    }
    let mut books = store_request("みどり書店");
    books.industry = Industry::Books;
    books.district = "東町".into();
    books.postal_code = "376-0301".into();
    let res = app
        .post(paths::ADMIN_STORES, Some(&admin), None, &books)
        .await;
    assert_eq!(res.status(), 201);
    let store: StoreDetail = res.json().await.unwrap();
    let res = app
        .post(&paths::approve_store(store.id), Some(&admin), None, &())
        .await;
    assert_eq!(res.status(), 200);
    let books_label = Industry::Books.japanese_name();
    store_attrs.insert(store.id, (books_label, "東町", "区分なし"));
    stores.push(store.id);

    // Residents: ten register in October, two in November; six install the app in November.
    let mut residents = Vec::new();
    let mut resident_attrs = HashMap::new();
    let mut registered = Vec::new();
    let mut installs = Vec::new();
    for (i, (birth, district, postal, band)) in people().into_iter().enumerate() {
        let at = if i < 10 {
            jst_at(2024, 10, 5, 9, i as u32)
        } else {
            jst_at(2024, 11, 10, 9, i as u32)
        };
        app.clock.set(at);
        let mut reg = registration(&format!("090{:08}", 10_000 + i));
        reg.birth_date = birth;
        reg.district = district.into();
        reg.postal_code = postal.into();
        let res = app.post(paths::RESIDENTS, None, None, &reg).await;
        assert_eq!(
            res.status(),
            201,
            "{}",
            res.text().await.unwrap_or_default()
        );
        let done: ResidentRegistered = res.json().await.unwrap();
        residents.push(done.resident_id);
        resident_attrs.insert(done.resident_id, (band, district));
        registered.push(at);
        if i % 2 == 0 {
            let at = jst_at(2024, 11, 3, 10, i as u32);
            app.clock.set(at);
            app.login(&done.login, "midori-password").await;
            installs.push(at);
        }
    }

    // Sets: everyone buys one or two on 2 November.
    let mut sets = Vec::new();
    for (i, &r) in residents.iter().enumerate() {
        let n = 1 + (i as i64 % 2);
        let at = jst_at(2024, 11, 2, 10, i as u32);
        let mut tx = db.begin().await.unwrap();
        ledger::issue_sets(&mut tx, &p, r, n, "staff:1", serde_json::json!({}), at)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        sets.push((at, n));
    }
    // A charge, and points that lapse mid-December.
    let mut tx = db.begin().await.unwrap();
    let charge = ChargeInput {
        resident_id: residents[5],
        amount: Yen(3000),
        method: ChargeMethod::Cash,
        receipt_number: "R-1",
        actor: "staff:1",
    };
    ledger::charge(&mut tx, charge, jst_at(2024, 11, 15, 10, 0))
        .await
        .unwrap();
    for &r in &residents[0..4] {
        ledger::award_points(
            &mut tx,
            r,
            Yen(500),
            jst_at(2024, 12, 16, 0, 0),
            "staff:1",
            serde_json::json!({}),
            jst_at(2024, 11, 3, 12, 0),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    // November: everyone pays once; the first payment is 00:10 JST on 1 November (still
    // 31 October in UTC). Resident 0 also pays with points.
    for (i, &r) in residents.iter().enumerate() {
        let at = if i == 0 {
            jst_at(2024, 11, 1, 0, 10)
        } else {
            jst_at(2024, 11, 1 + i as u32, 12, 0)
        };
        pay(db, &p, r, stores[i % 3], 1000 + 100 * i as i64, false, at).await;
    }
    let with_points = pay(
        db,
        &p,
        residents[0],
        stores[0],
        700,
        true,
        jst_at(2024, 11, 20, 12, 0),
    )
    .await;
    // 23:50 JST on 30 November is November; 00:30 JST on 1 December (still 30 November in
    // UTC) is December.
    pay(
        db,
        &p,
        residents[1],
        stores[1],
        450,
        false,
        jst_at(2024, 11, 30, 23, 50),
    )
    .await;
    pay(
        db,
        &p,
        residents[2],
        stores[1],
        550,
        false,
        jst_at(2024, 12, 1, 0, 30),
    )
    .await;
    // December: seven residents pay; one November payment is partly refunded.
    for &r in &residents[0..7] {
        pay(
            db,
            &p,
            r,
            stores[0],
            2000,
            false,
            jst_at(2024, 12, 10, 15, 0),
        )
        .await;
    }
    let mut tx = db.begin().await.unwrap();
    let refund = RefundInput {
        payment_id: with_points,
        amount: Yen(300),
        reason: "返品",
        actor: "staff:1",
        only_store: None,
    };
    ledger::refund(&mut tx, refund, jst_at(2024, 12, 5, 11, 0))
        .await
        .unwrap();
    ledger::expire_points(&mut tx, "staff:1", 100, jst_at(2024, 12, 16, 0, 5))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Community-point events on 20 December: seven residents (the 70代 of 大間々町) clean the
    // riverbank; two of 笠懸町 and one of 大間々町 plant flowers, too few to show.
    app.clock.set(jst_at(2024, 12, 18, 10, 0));
    // A fresh session: October's has timed out by now.
    let organiser = app.staff("points-admin", Role::Administrator).await;
    let mut events = Vec::new();
    for (name, points) in [("河川敷クリーン作戦", 300), ("花壇づくり", 200)] {
        let spec = PointsEventSpec {
            name: name.into(),
            place: "渡良瀬川河川敷".into(),
            description: String::new(),
            points: Yen(points),
            starts_at: jst_at(2024, 12, 20, 9, 0),
            ends_at: jst_at(2024, 12, 20, 12, 0),
            capacity: None,
            frequency: PointsFrequency::Once,
        };
        let res = app
            .post(paths::ADMIN_POINTS_EVENTS, Some(&organiser), None, &spec)
            .await;
        assert_eq!(
            res.status(),
            201,
            "{}",
            res.text().await.unwrap_or_default()
        );
        let event: PointsEvent = res.json().await.unwrap();
        events.push(event.id);
    }
    let takers = residents[0..7]
        .iter()
        .map(|&r| (events[0], r))
        .chain([residents[7], residents[8], residents[0]].map(|r| (events[1], r)));
    for (i, (event, resident)) in takers.enumerate() {
        let mut tx = db.begin().await.unwrap();
        chiiki_backend::points::claims::claim(
            &mut tx,
            &p.id,
            &p.points,
            resident,
            event,
            jst_at(2024, 12, 20, 9, i as u32),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    // After the usage window: what is left of the premium currency lapses.
    let mut tx = db.begin().await.unwrap();
    ledger::expire_issue(&mut tx, &p.id, "staff:1", 100, jst_at(2025, 3, 1, 0, 10))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.check_ledger().await;
    Built {
        residents,
        resident_attrs,
        store_attrs,
        registered,
        installs,
        sets,
        approved_stores: 3,
    }
}

/// The raw ledger, read back without any of the reports module's queries.
struct Raw {
    /// (operation id, debit account, credit account, amount, created at)
    transfers: Vec<(i64, i64, i64, i64, i64)>,
    /// account id → (kind, issue)
    accounts: HashMap<i64, (String, String)>,
    /// operation id → (kind, resident, store)
    operations: HashMap<i64, (String, Option<i64>, Option<i64>)>,
    /// Community-point claims: (event name, resident, points, created at)
    claims: Vec<(String, i64, i64, i64)>,
}

async fn raw(db: &Db) -> Raw {
    let transfers = sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(
        "SELECT operation_id, debit_account, credit_account, amount, created_at FROM transfers",
    )
    .fetch_all(db.reader())
    .await
    .unwrap();
    let accounts =
        sqlx::query_as::<_, (i64, String, String)>("SELECT id, kind, issue FROM accounts")
            .fetch_all(db.reader())
            .await
            .unwrap()
            .into_iter()
            .map(|(id, k, i)| (id, (k, i)))
            .collect();
    let operations = sqlx::query_as::<_, (i64, String, Option<i64>, Option<i64>)>(
        "SELECT id, kind, resident_id, store_id FROM operations",
    )
    .fetch_all(db.reader())
    .await
    .unwrap()
    .into_iter()
    .map(|(id, k, r, s)| (id, (k, r, s)))
    .collect();
    let claims = sqlx::query_as::<_, (String, i64, i64, i64)>(
        "SELECT e.name, c.resident_id, c.points, c.created_at
         FROM points_claims c JOIN points_events e ON e.id = c.event_id",
    )
    .fetch_all(db.reader())
    .await
    .unwrap();
    Raw {
        transfers,
        accounts,
        operations,
        claims,
    }
}

/// What the test expects of one group.
#[derive(Default, Debug)]
struct Expect {
    payments: HashSet<i64>,
    amount: i64,
    refunds: HashSet<i64>,
    refunded: i64,
    residents: HashSet<i64>,
}

impl Expect {
    fn check(&self, what: &str, s: &Spending, residents: ResidentCount) {
        assert_eq!(s.payments, self.payments.len() as i64, "{what}: payments");
        assert_eq!(s.amount, Yen(self.amount), "{what}: amount");
        assert_eq!(s.refunds, self.refunds.len() as i64, "{what}: refunds");
        assert_eq!(s.refunded, Yen(self.refunded), "{what}: refunded");
        assert_eq!(s.net, Yen(self.amount - self.refunded), "{what}: net");
        count(what, residents, self.residents.len() as i64);
    }
}

/// A resident count is exact at five and above, 「5未満」 below.
fn count(what: &str, c: ResidentCount, expected: i64) {
    if expected >= 5 {
        assert_eq!(c.shown(), Some(expected), "{what}");
    } else {
        assert_eq!(c.shown(), None, "{what}");
        assert_eq!(c.to_string(), "5未満", "{what}");
    }
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Checks every figure of `report` over `[start, end)` against the raw ledger.
fn check(report: &Report, raw: &Raw, built: &Built, p: &Programme, start: i64, end: i64) {
    let kind = |account: i64| raw.accounts[&account].0.as_str();
    let issue = |account: i64| raw.accounts[&account].1.as_str();
    let resident_purse = |k: &str| {
        matches!(
            k,
            "resident_premium" | "resident_charged" | "resident_points"
        )
    };
    let in_period = |t: i64| t >= start && t < end;

    // Spending, by every dimension, keyed by labels the test knows from its own setup.
    let mut total = Expect::default();
    let mut by_day: BTreeMap<NaiveDate, Expect> = BTreeMap::new();
    let mut by: HashMap<(&str, String), Expect> = HashMap::new();
    for &(op, _, _, amount, at) in &raw.transfers {
        let (op_kind, resident, store) = &raw.operations[&op];
        if !in_period(at) || !matches!(op_kind.as_str(), "payment" | "refund") {
            continue;
        }
        let (resident, store) = (resident.unwrap(), store.unwrap());
        let day = Utc
            .timestamp_millis_opt(at)
            .unwrap()
            .with_timezone(&jst())
            .date_naive();
        let (industry, store_district, size) = built.store_attrs[&store];
        let (band, home) = built.resident_attrs[&resident];
        let groups = [
            ("industry", industry.to_string()),
            ("store_district", store_district.to_string()),
            ("size", size.to_string()),
            ("band", band.to_string()),
            ("home", home.to_string()),
        ];
        let add = |e: &mut Expect| {
            if op_kind == "payment" {
                e.payments.insert(op);
                e.amount += amount;
                e.residents.insert(resident);
            } else {
                e.refunds.insert(op);
                e.refunded += amount;
            }
        };
        add(&mut total);
        add(by_day.entry(day).or_default());
        for key in groups {
            add(by.entry(key).or_default());
        }
    }
    let s = &report.summary;
    total.check("total", &s.spending, s.active_residents);
    for row in &report.by_day {
        let e = by_day.remove(&row.date).unwrap_or_default();
        e.check(&format!("day {}", row.date), &row.spending, row.residents);
    }
    assert!(
        by_day.is_empty(),
        "days missing from the report: {by_day:?}"
    );
    let mut groups_seen = 0;
    for (dim, rows) in [
        ("industry", &report.by_industry),
        ("store_district", &report.by_store_district),
        ("size", &report.by_size_class),
    ] {
        for row in rows {
            let e = by.remove(&(dim, row.label.clone())).unwrap_or_default();
            e.check(
                &format!("{dim} {}", row.label),
                &row.spending,
                row.residents,
            );
            groups_seen += 1;
        }
    }
    for (dim, rows) in [
        ("band", &report.by_age_band),
        ("home", &report.by_resident_district),
    ] {
        for row in rows {
            let e = by.remove(&(dim, row.label.clone())).unwrap_or_default();
            let what = format!("{dim} {}", row.label);
            count(&what, row.residents, e.residents.len() as i64);
            match row.spending.shown() {
                Some(spending) => e.check(&what, &spending, row.residents),
                None => {
                    assert!(e.residents.len() < 5, "{what} hidden with enough residents");
                    assert_eq!(serde_json::to_value(row.spending).unwrap(), "秘匿");
                }
            }
        }
    }
    assert!(groups_seen > 0);
    assert!(by.is_empty(), "groups missing from the report: {by:?}");

    // Participation in community-point events: (claims, residents, points) per group.
    let mut taken: HashMap<(&str, String), (i64, HashSet<i64>, i64)> = HashMap::new();
    for (event, resident, points, at) in &raw.claims {
        if !in_period(*at) {
            continue;
        }
        let (band, home) = built.resident_attrs[resident];
        for key in [
            ("event", event.clone()),
            ("band", band.to_string()),
            ("home", home.to_string()),
        ] {
            let e = taken.entry(key).or_default();
            e.0 += 1;
            e.1.insert(*resident);
            e.2 += points;
        }
    }
    for (dim, rows) in [
        ("event", &report.points_by_event),
        ("band", &report.points_by_age_band),
        ("home", &report.points_by_district),
    ] {
        for row in rows {
            let (claims, residents, points) =
                taken.remove(&(dim, row.label.clone())).unwrap_or_default();
            let what = format!("points {dim} {}", row.label);
            count(&what, row.residents, residents.len() as i64);
            match row.participation.shown() {
                Some(p) => {
                    assert_eq!(p.participations, claims, "{what}");
                    assert_eq!(p.points, Yen(points), "{what}");
                }
                None => {
                    assert!(residents.len() < 5, "{what} hidden with enough residents");
                    assert_eq!(serde_json::to_value(row.participation).unwrap(), "秘匿");
                }
            }
        }
    }
    assert!(taken.is_empty(), "participation missing: {taken:?}");

    // Value flows.
    let mut issued_premium = [0i64; 2]; // [in period, to end]
    let mut issued_charged = [0i64; 2];
    let mut issued_points = [0i64; 2];
    let mut spent = [0i64; 2];
    let mut spent_premium = [0i64; 2];
    let mut spent_points = [0i64; 2];
    let mut breakage = [0i64; 2];
    let mut lapsed_points = [0i64; 2];
    let mut balances: HashMap<&str, i64> = HashMap::new();
    for &(_, debit, credit, amount, at) in &raw.transfers {
        if at >= end {
            continue;
        }
        let slots: Vec<usize> = if at >= start { vec![0, 1] } else { vec![1] };
        let (d, c) = (kind(debit), kind(credit));
        for i in slots {
            if c == "resident_premium"
                && issue(credit) == p.id
                && (d == "fund" || d == "issuer_premium")
            {
                issued_premium[i] += amount;
            }
            if c == "resident_charged" && d == "fund" {
                issued_charged[i] += amount;
            }
            if c == "resident_points" && d == "issuer_points" {
                issued_points[i] += amount;
            }
            if resident_purse(d) && c == "store" {
                spent[i] += amount;
                spent_premium[i] += if d == "resident_premium" { amount } else { 0 };
                spent_points[i] += if d == "resident_points" { amount } else { 0 };
            }
            if d == "store" && resident_purse(c) {
                spent[i] -= amount;
                spent_premium[i] -= if c == "resident_premium" { amount } else { 0 };
                spent_points[i] -= if c == "resident_points" { amount } else { 0 };
            }
            if d == "resident_premium" && c == "expired" {
                breakage[i] += amount;
            }
            if d == "resident_points" && c == "expired" {
                lapsed_points[i] += amount;
            }
        }
        *balances.entry(c).or_default() += amount;
        *balances.entry(d).or_default() -= amount;
    }
    let issued_total = issued_premium[1] + issued_charged[1] + issued_points[1];
    assert_eq!(s.issued.premium, Yen(issued_premium[0]));
    assert_eq!(s.issued.charged, Yen(issued_charged[0]));
    assert_eq!(s.issued.points, Yen(issued_points[0]));
    assert_eq!(s.issued_total.total, Yen(issued_total));
    assert_eq!(s.spent_total, Yen(spent[1]));
    assert_eq!(s.redemption.numerator, Yen(spent[1]));
    assert_eq!(s.redemption.denominator, Yen(issued_total));
    assert_eq!(s.premium_redemption.numerator, Yen(spent_premium[1]));
    assert_eq!(s.premium_redemption.denominator, Yen(issued_premium[1]));
    assert_eq!(s.breakage, Yen(breakage[0]));
    assert_eq!(s.breakage_total, Yen(breakage[1]));
    assert_eq!(s.points.issued, Yen(issued_points[0]));
    assert_eq!(s.points.spent, Yen(spent_points[0]));
    assert_eq!(s.points.lapsed, Yen(lapsed_points[0]));
    assert_eq!(s.points_total.lapsed, Yen(lapsed_points[1]));
    let bal = |k: &str| Yen(balances.get(k).copied().unwrap_or(0));
    assert_eq!(s.unspent.premium, bal("resident_premium"));
    assert_eq!(s.unspent.charged, bal("resident_charged"));
    assert_eq!(s.unspent.points, bal("resident_points"));
    let small = by_small(raw, built, start, end);
    assert_eq!(s.small_store_share.numerator, Yen(small));
    assert_eq!(
        s.small_store_share.denominator,
        Yen(total.amount - total.refunded)
    );
    let stores_active: HashSet<i64> = raw
        .transfers
        .iter()
        .filter(|t| in_period(t.4) && raw.operations[&t.0].0 == "payment")
        .filter_map(|t| raw.operations[&t.0].2)
        .collect();
    assert_eq!(s.stores_active, stores_active.len() as i64);

    // What the test did itself.
    let between = |ts: &[DateTime<Utc>], from: i64| {
        ts.iter()
            .filter(|t| millis(**t) >= from && millis(**t) < end)
            .count() as i64
    };
    count(
        "new residents",
        s.residents_new,
        between(&built.registered, start),
    );
    count(
        "residents",
        s.residents_total,
        between(&built.registered, 0),
    );
    count(
        "new installs",
        s.installs_new,
        between(&built.installs, start),
    );
    count("installs", s.installs_total, between(&built.installs, 0));
    let sets = |from: i64| -> i64 {
        built
            .sets
            .iter()
            .filter(|(t, _)| millis(*t) >= from && millis(*t) < end)
            .map(|(_, n)| n)
            .sum()
    };
    assert_eq!(s.sets_sold, sets(start));
    assert_eq!(s.sets_sold_total, sets(0));
    assert_eq!(s.stores_approved, built.approved_stores);
    assert_eq!(built.residents.len(), 12);
}

/// Net spent at small stores in `[start, end)`.
fn by_small(raw: &Raw, built: &Built, start: i64, end: i64) -> i64 {
    raw.transfers
        .iter()
        .filter(|t| t.4 >= start && t.4 < end)
        .filter_map(|t| {
            let (kind, _, store) = &raw.operations[&t.0];
            let small = built.store_attrs.get(&(*store)?)?.2 == "中小店舗";
            match (kind.as_str(), small) {
                ("payment", true) => Some(t.3),
                ("refund", true) => Some(-t.3),
                _ => None,
            }
        })
        .sum()
}

#[tokio::test]
async fn every_figure_matches_the_raw_transfers_and_small_groups_stay_hidden() {
    let app = spawn_app().await;
    let built = build(&app).await;
    let p = (*app.programme).clone();
    let raw = raw(&app.db).await;

    for (y, m) in [(2024, 10), (2024, 11), (2024, 12), (2025, 3)] {
        let report = reports::monthly(&app.db, &p, y, m).await.unwrap();
        let start = millis(jst_at(y, m, 1, 0, 0));
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let end = millis(jst_at(ny, nm, 1, 0, 0));
        check(&report, &raw, &built, &p, start, end);
    }
    let now = jst_at(2025, 3, 2, 9, 0);
    let fin = reports::final_report(&app.db, &p, now).await.unwrap();
    check(&fin, &raw, &built, &p, 0, millis(jst_at(2025, 3, 3, 0, 0)));

    // The facts the data was built to show.
    let nov = reports::monthly(&app.db, &p, 2024, 11).await.unwrap();
    assert_eq!(nov.summary.active_residents.shown(), Some(12));
    assert_eq!(nov.summary.residents_new.to_string(), "5未満");
    assert_eq!(nov.summary.spending.payments, 12 + 2);
    let first_day = &nov.by_day[0];
    assert_eq!(
        first_day.date,
        NaiveDate::from_ymd_opt(2024, 11, 1).unwrap()
    );
    assert_eq!(first_day.spending.amount, Yen(1000));
    let band = |r: &Report, label: &str| {
        r.by_age_band
            .iter()
            .find(|b| b.label == label)
            .unwrap()
            .clone()
    };
    assert_eq!(band(&nov, "70代").residents.shown(), Some(7));
    assert!(band(&nov, "20代").spending.shown().is_none());
    assert!(fin.summary.breakage_total.is_positive());
    // Three residents' unused points, and the 100 points the refund returned to resident 0
    // (refunds return the latest leg first: 200 premium, then 100 of the 500 points).
    assert_eq!(fin.summary.points_total.lapsed, Yen(3 * 500 + 100));

    // Community-point events in December, against SQL over the claims themselves.
    let dec = reports::monthly(&app.db, &p, 2024, 12).await.unwrap();
    let by_sql = sqlx::query_as::<_, (String, i64, i64, i64)>(
        "SELECT e.name, COUNT(*), COUNT(DISTINCT c.resident_id), CAST(SUM(c.points) AS BIGINT)
         FROM points_claims c JOIN points_events e ON e.id = c.event_id
         WHERE c.created_at >= $1 AND c.created_at < $2
         GROUP BY e.name ORDER BY e.name",
    )
    .bind(millis(jst_at(2024, 12, 1, 0, 0)))
    .bind(millis(jst_at(2025, 1, 1, 0, 0)))
    .fetch_all(app.db.reader())
    .await
    .unwrap();
    assert_eq!(
        by_sql,
        vec![
            ("河川敷クリーン作戦".to_string(), 7, 7, 7 * 300),
            ("花壇づくり".to_string(), 3, 3, 3 * 200),
        ]
    );
    assert_eq!(dec.points_by_event.len(), 2);
    for row in &dec.points_by_event {
        let (_, claims, residents, points) =
            by_sql.iter().find(|r| r.0 == row.label).unwrap().clone();
        count(&row.label, row.residents, residents);
        match row.participation.shown() {
            Some(p) => {
                assert_eq!((p.participations, p.points), (claims, Yen(points)));
            }
            None => assert!(residents < 5, "{}", row.label),
        }
    }
    let clean = &dec.points_by_event[0];
    assert_eq!(clean.label, "河川敷クリーン作戦");
    assert_eq!(clean.residents.shown(), Some(7));
    assert!(dec.points_by_event[1].participation.shown().is_none());
    assert!(nov.points_by_event.is_empty());
    let table = dec.table("points_event").unwrap();
    assert_eq!(
        table.rows[1]
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
        ["花壇づくり", "秘匿", "5未満", "秘匿"]
    );
    assert_eq!(
        table.rows[0]
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
        ["河川敷クリーン作戦", "7", "7", "¥2,100"]
    );
    let json = serde_json::to_value(&dec).unwrap();
    assert_eq!(json["points_by_event"][1]["residents"], "5未満");
    assert_eq!(json["points_by_event"][1]["participation"], "秘匿");

    // Every output says 「5未満」 and never the small count.
    let tables = nov.tables();
    let age = tables.iter().find(|t| t.id == "age_band").unwrap();
    let twenties = age.rows.iter().find(|r| r[0].plain() == "20代").unwrap();
    assert_eq!(twenties.last().unwrap().to_string(), "5未満");
    let charts = nov.charts().unwrap();
    let age_chart = charts.iter().find(|c| c.id == "age_band").unwrap();
    assert!(age_chart.svg.contains("20代（秘匿）"));
    assert!(age_chart.svg.contains("Noto Sans CJK JP"));
    let json = serde_json::to_value(&nov).unwrap();
    assert_eq!(json["summary"]["residents_new"], "5未満");

    // Over HTTP, for a viewer: JSON, Excel read back, CSV with BOM.
    let viewer = app.staff("viewer", Role::Viewer).await;
    let res = app
        .get("/api/v1/admin/reports/monthly?month=2024-11", Some(&viewer))
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["summary"]["spending"]["net"],
        nov.summary.spending.net.get()
    );
    let res = app
        .get(
            "/api/v1/admin/reports/monthly.xlsx?month=2024-11",
            Some(&viewer),
        )
        .await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap().to_vec();
    check_xlsx(&bytes, &nov);
    let res = app
        .get(
            "/api/v1/admin/reports/monthly.csv?month=2024-11&table=age_band",
            Some(&viewer),
        )
        .await;
    assert_eq!(res.status(), 200);
    let csv = res.bytes().await.unwrap().to_vec();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "CSV has a BOM");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert!(text.starts_with("年代,決済件数"), "{text}");
    assert!(
        text.contains("20代,秘匿,秘匿,秘匿,秘匿,秘匿,5未満\r\n"),
        "{text}"
    );
    assert!(text.contains("70代,"), "{text}");
    let res = app
        .get(
            "/api/v1/admin/reports/monthly.csv?month=2024-12&table=points_event",
            Some(&viewer),
        )
        .await;
    assert_eq!(res.status(), 200);
    let csv = res.bytes().await.unwrap().to_vec();
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert!(
        text.starts_with("事業名,参加件数,参加者数,付与ポイント（円相当）\r\n"),
        "{text}"
    );
    assert!(text.contains("河川敷クリーン作戦,7,7,2100\r\n"), "{text}");
    assert!(text.contains("花壇づくり,秘匿,5未満,秘匿\r\n"), "{text}");
    let res = app
        .get("/api/v1/admin/reports/final.xlsx", Some(&viewer))
        .await;
    assert_eq!(res.status(), 200);
    let res = app.get("/api/v1/admin/reports/final", Some(&viewer)).await;
    assert_eq!(res.status(), 200);

    // Each download is in the audit log: the monthly workbook, its CSVs, the final workbook.
    let exports = chiiki_backend::audit::list(
        &app.db,
        &chiiki_backend::audit::Filter {
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_iter()
    .filter(|e| e.action.starts_with("export.report_"))
    .map(|e| e.target)
    .collect::<Vec<_>>();
    assert_eq!(exports.len(), 4, "{exports:?}");
    assert!(exports.contains(&"report:report-midori-2024-2024-11-age_band.csv".to_string()));

    let doc: serde_json::Value = app.get("/openapi.json", None).await.json().await.unwrap();
    for path in [
        "monthly",
        "monthly.xlsx",
        "monthly.csv",
        "final",
        "final.xlsx",
        "final.csv",
    ] {
        let path = format!("/api/v1/admin/reports/{path}");
        assert!(doc["paths"][&path].is_object(), "{path} is documented");
    }

    // Refusals: a resident, nobody, a bad month, an unknown table.
    let (_, resident) = app.resident("09099990000").await;
    let res = app
        .get(
            "/api/v1/admin/reports/monthly?month=2024-11",
            Some(&resident),
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .get("/api/v1/admin/reports/monthly?month=2024-11", None)
        .await;
    assert_eq!(res.status(), 401);
    for bad in ["2024-13", "x", ""] {
        let res = app
            .get(
                &format!("/api/v1/admin/reports/monthly?month={bad}"),
                Some(&viewer),
            )
            .await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let res = app
        .get(
            "/api/v1/admin/reports/monthly.csv?month=2024-11&table=nope",
            Some(&viewer),
        )
        .await;
    assert_eq!(res.status(), 422);
}

/// Reads the workbook back: one sheet per table, the net spent where the summary says, and
/// 「5未満」 in the age band sheet.
fn check_xlsx(bytes: &[u8], report: &Report) {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).unwrap();
    let names = book.sheet_names();
    for t in report.tables() {
        assert!(names.contains(&t.title.to_string()), "sheet {}", t.title);
    }
    let summary = book.worksheet_range("概要").unwrap();
    let net = summary
        .rows()
        .find(|r| r.first() == Some(&Data::String("利用額（純額・円）".into())))
        .expect("net row");
    assert_eq!(
        net[1],
        Data::Float(report.summary.spending.net.get() as f64)
    );
    let age = book.worksheet_range("年代別").unwrap();
    let twenties = age
        .rows()
        .find(|r| r.first() == Some(&Data::String("20代".into())))
        .expect("20代 row");
    assert_eq!(twenties[6], Data::String("5未満".into()));
    assert_eq!(twenties[5], Data::String("秘匿".into()));
}
