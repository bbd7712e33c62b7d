//! Test support: a fresh database per test (SQLite in a temporary directory, or a new
//! PostgreSQL database when `CHIIKI_TEST_POSTGRES` names a server), and the real server on a
//! random local port.
#![allow(dead_code)]

use chiiki_backend::auth::{self, PinPolicy};
use chiiki_backend::clock::FixedClock;
use chiiki_backend::crypto::HashCost;
use chiiki_backend::db::{Db, Engine};
use chiiki_backend::ops::limits::Limits;
use chiiki_backend::programme::Programme;
use chiiki_backend::{AppState, Settings, ledger};
use chiiki_core::protocol::*;
use chrono::{DateTime, TimeZone, Utc};
use ring::rand::SecureRandom;
use std::sync::Arc;

pub struct TestDb {
    pub db: Db,
    /// Its URL; a SQLite file's directory is removed with it.
    pub database: FreshDatabase,
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("random");
    hex::encode(bytes)
}

/// A fresh, empty database of the same engine as the tests use, not yet connected.
pub struct FreshDatabase {
    pub url: String,
    /// Where a SQLite database lives; removed with it.
    _dir: Option<tempfile::TempDir>,
}

/// Creates a fresh database: a new PostgreSQL database on `CHIIKI_TEST_POSTGRES`, else a
/// SQLite file in a temporary directory.
pub async fn fresh_database() -> FreshDatabase {
    match std::env::var("CHIIKI_TEST_POSTGRES") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("chiiki_test_{}", random_suffix());
            let admin = Db::connect(&admin_url)
                .await
                .expect("connect to PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(admin.writer())
                .await
                .expect("create database");
            admin.close().await;
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&admin_url);
            FreshDatabase {
                url: format!("{base}/{name}"),
                _dir: None,
            }
        }
        _ => {
            let dir = tempfile::tempdir().expect("tempdir");
            FreshDatabase {
                url: format!("sqlite://{}/chiiki.db", dir.path().display()),
                _dir: Some(dir),
            }
        }
    }
}

pub async fn test_db() -> TestDb {
    let fresh = fresh_database().await;
    let db = Db::connect(&fresh.url).await.expect("connect test db");
    db.migrate().await.expect("migrate");
    TestDb {
        db,
        database: fresh,
    }
}

pub fn engine_name(db: &Db) -> &'static str {
    match db.engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    }
}

/// Inside Midori's 2024 usage window: 2024-12-01 12:00 JST.
pub fn in_usage() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 12, 1, 3, 0, 0).unwrap()
}

pub fn settings() -> Settings {
    Settings {
        hash_cost: HashCost::fast_for_tests(),
        pin_policy: PinPolicy::default(),
        trust_forwarded_for: false,
        hsts: false,
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub db: Db,
    pub clock: Arc<FixedClock>,
    pub programme: Arc<Programme>,
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    pub group_commit: chiiki_backend::http::group_commit::GroupCommit,
    pub url: String,
    _db: TestDb,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    // Tests act like many people at once; the limits themselves have their own test.
    spawn_app_with_limits(Limits::new(10_000)).await
}

pub async fn spawn_app_with_limits(limits: Limits) -> TestApp {
    spawn_app_with(limits, sale_settings()).await
}

/// The payment provider's webhook secret in tests.
pub const WEBHOOK_SECRET: &str = "test-provider-secret";

/// The sale with a known webhook secret and a gate wide enough that only the gate's own
/// test ever meets it.
pub fn sale_settings() -> chiiki_backend::sale::SaleSettings {
    chiiki_backend::sale::SaleSettings {
        webhook_secret: Some(WEBHOOK_SECRET.into()),
        admission: chiiki_backend::sale::AdmissionLimits {
            in_flight: 64,
            queue: 100_000,
            max_wait: std::time::Duration::from_secs(60),
            retry_after: std::time::Duration::from_secs(1),
        },
    }
}

pub async fn spawn_app_with(limits: Limits, sale: chiiki_backend::sale::SaleSettings) -> TestApp {
    let programme = Programme::midori_2024().expect("programme");
    spawn_app_for(programme, limits, sale).await
}

/// The server with another programme (e.g. Midori's file with one setting changed).
pub async fn spawn_app_for(
    programme: Programme,
    limits: Limits,
    sale: chiiki_backend::sale::SaleSettings,
) -> TestApp {
    let test_db = test_db().await;
    let db = test_db.db.clone();
    let clock = FixedClock::at(in_usage());
    let programme = Arc::new(programme);
    let mut state = AppState::new(db.clone(), (*programme).clone(), clock.clone(), settings());
    state.limits = Arc::new(limits);
    state.sale = chiiki_backend::sale::SaleRuntime::new(sale);
    let draining = state.draining.clone();
    let group_commit = state.group_commit.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = chiiki_backend::serve(listener, state, async move {
            let _ = rx.await;
        })
        .await;
    });
    TestApp {
        base,
        http: reqwest::Client::new(),
        db,
        clock,
        programme,
        draining,
        group_commit,
        url: test_db.database.url.clone(),
        _db: test_db,
        _shutdown: tx,
    }
}

pub fn registration(phone: &str) -> RegisterResident {
    RegisterResident {
        name: "緑 花子".into(),
        kana: "ミドリ ハナコ".into(),
        birth_date: chrono::NaiveDate::from_ymd_opt(1950, 4, 1).unwrap(),
        postal_code: "376-0101".into(),
        address: "大間々1-2-3".into(),
        district: "大間々町".into(),
        phone: phone.into(),
        email: Some("hanako@example.jp".into()),
        password: "midori-password".into(),
        pin: "1234".into(),
    }
}

pub fn store_request(name: &str) -> CreateStore {
    CreateStore {
        name: name.into(),
        kana: "ミドリショウテン".into(),
        romanised_name: "MIDORI SHOTEN".into(),
        industry: Industry::Supermarket,
        district: "大間々町".into(),
        address: "大間々1-1".into(),
        postal_code: "376-0101".into(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn check_ledger(&self) {
        let problems = ledger::check_invariants(self.db.reader())
            .await
            .expect("invariants");
        assert!(
            problems.is_empty(),
            "ledger invariants broken: {problems:#?}"
        );
    }

    pub async fn post<T: serde::Serialize>(
        &self,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: &T,
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header(IDEMPOTENCY_KEY_HEADER, k);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn login(&self, login: &str, password: &str) -> SessionCreated {
        let res = self
            .post(
                paths::SESSIONS,
                None,
                None,
                &CreateSession {
                    login: login.into(),
                    password: password.into(),
                    device_name: "test device".into(),
                    public_key: None,
                },
            )
            .await;
        assert_eq!(res.status(), 201, "login {login}");
        res.json().await.expect("session")
    }

    /// Registers a resident and signs them in: (resident id, token).
    pub async fn resident(&self, phone: &str) -> (i64, String) {
        let res = self
            .post(paths::RESIDENTS, None, None, &registration(phone))
            .await;
        assert_eq!(
            res.status(),
            201,
            "register {phone}: {}",
            res.text().await.unwrap_or_default()
        );
        let reg: ResidentRegistered = res.json().await.expect("registered");
        let session = self.login(&reg.login, "midori-password").await;
        (reg.resident_id, session.token)
    }

    /// A staff account with `role`, signed in.
    pub async fn staff(&self, login: &str, role: Role) -> String {
        auth::create_staff(
            &self.db,
            login,
            "staff-password",
            "職員",
            role,
            HashCost::fast_for_tests(),
            in_usage(),
        )
        .await
        .expect("staff");
        self.login(login, "staff-password").await.token
    }

    pub async fn approved_store(&self, admin: &str, name: &str) -> StoreDetail {
        let res = self
            .post(paths::ADMIN_STORES, Some(admin), None, &store_request(name))
            .await;
        assert_eq!(res.status(), 201);
        let store: StoreDetail = res.json().await.expect("store");
        let res = self
            .post(&paths::approve_store(store.id), Some(admin), None, &())
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.expect("approved")
    }

    pub async fn charge(&self, admin: &str, resident_id: i64, amount: i64) -> ChargeReceipt {
        let key = format!("charge-{}", random_suffix());
        let res = self
            .post(
                paths::ADMIN_CHARGES,
                Some(admin),
                Some(&key),
                &ChargeRequest {
                    resident_id,
                    amount: chiiki_core::Yen(amount),
                    method: ChargeMethod::Cash,
                    receipt_number: "R-1".into(),
                },
            )
            .await;
        assert_eq!(res.status(), 201);
        res.json().await.expect("charge")
    }

    pub async fn pay(
        &self,
        token: &str,
        key: &str,
        store_id: i64,
        amount: i64,
        pin: &str,
    ) -> reqwest::Response {
        self.post(
            paths::PAYMENTS,
            Some(token),
            Some(key),
            &PaymentRequest {
                store_id: Some(store_id),
                store_code: None,
                amount: chiiki_core::Yen(amount),
                pin: pin.into(),
                use_points: None,
            },
        )
        .await
    }
}

/// Arbitrary JSON request bodies for the "no body makes the server fail" tests: the generic
/// leaves plus `extra_leaves` (values an endpoint half-accepts), nested up to two levels in
/// arrays and in objects whose keys are drawn from `fields` (the names the endpoints read).
pub fn json_bodies(
    fields: &'static [&'static str],
    extra_leaves: Vec<serde_json::Value>,
) -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let generic = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (-3i64..5).prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
    ];
    let leaf = if extra_leaves.is_empty() {
        generic.boxed()
    } else {
        prop_oneof![generic, proptest::sample::select(extra_leaves)].boxed()
    };
    let key = proptest::sample::select(fields);
    leaf.prop_recursive(2, 12, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(key.clone(), inner, 0..7).prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

pub async fn error_code(res: reqwest::Response) -> (u16, ErrorCode) {
    let status = res.status().as_u16();
    let body: ErrorBody = res.json().await.expect("error body");
    (status, body.error)
}

/// A resident registered straight into `db` (PIN 1234), without HTTP.
pub async fn db_resident(db: &Db, phone: &str) -> i64 {
    let p = Programme::midori_2024().expect("the Midori programme");
    let new = chiiki_backend::residents::NewResident::parse(
        &registration(phone),
        &p,
        in_usage().date_naive(),
    )
    .expect("a valid registration");
    chiiki_backend::residents::register(db, new, settings().hash_cost, in_usage())
        .await
        .expect("registered")
}

/// An approved store made straight in `db`, without HTTP.
pub async fn db_store(db: &Db) -> i64 {
    let p = Programme::midori_2024().expect("the Midori programme");
    let new = chiiki_backend::stores::NewStore::parse(&store_request("みどり商店"), &p)
        .expect("a valid store");
    let s = chiiki_backend::stores::create(db, &new, in_usage())
        .await
        .expect("created");
    chiiki_backend::stores::transition(db, s.id, StoreStatus::Approved, in_usage())
        .await
        .expect("approved");
    s.id
}

/// Charges a resident's purse with cash, straight in `db`.
pub async fn db_charge(db: &Db, resident_id: i64, amount: i64) {
    let mut tx = db.begin().await.expect("begin");
    let input = ledger::ChargeInput {
        resident_id,
        amount: chiiki_core::Yen(amount),
        method: ChargeMethod::Cash,
        receipt_number: "R",
        actor: "staff:1",
    };
    ledger::charge(&mut tx, input, in_usage())
        .await
        .expect("charged");
    tx.commit().await.expect("commit");
}

/// A signed-in session of the resident registered with `phone` (by [`db_resident`]): the
/// hash of its bearer token, as the payment batches know callers.
pub async fn db_session(db: &Db, phone: &str) -> String {
    let input = auth::LoginInput {
        login: phone,
        password: "midori-password",
        device_name: "test",
        public_key: None,
    };
    let session = auth::login(db, input, in_usage()).await.expect("signed in");
    chiiki_backend::crypto::token_hash(&session.token)
}
