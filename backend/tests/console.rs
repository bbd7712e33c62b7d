//! The staff console's rules over HTTP, against the real server (SQLite, and PostgreSQL when
//! CHIIKI_TEST_POSTGRES is set): viewers cannot change anything, forged forms are refused,
//! repeated wrong passwords lock a login, the session cookie's flags, and the audit log that
//! every action lands in, checked by `chiiki audit verify` after tampering with the database.

mod common;

use chiiki_backend::audit;
use chiiki_core::Yen;
use chiiki_core::protocol::*;
use common::{TestApp, engine_name, spawn_app, store_request};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use std::collections::BTreeMap;

/// A browser without JavaScript: keeps cookies, never follows redirects.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    /// The CSRF token of the first form on the page.
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a form with a csrf field") + marker.len();
        let end = self.body[start..].find('"').expect("end of value") + start;
        self.body[start..end].to_string()
    }

    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    }
}

fn form_encode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, res: reqwest::Response) -> Page {
        let status = res.status();
        let headers = res.headers().clone();
        for cookie in headers.get_all(SET_COOKIE).iter() {
            let text = cookie.to_str().unwrap();
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            if text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let body = res.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(res).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_encode(fields))
            .send()
            .await
            .unwrap();
        self.read(res).await
    }

    async fn sign_in(&mut self, login: &str, password: &str) -> Page {
        let form = self.get("/console/login").await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form.csrf();
        self.post(
            "/console/login",
            &[("csrf", &csrf), ("login", login), ("password", password)],
        )
        .await
    }
}

/// A staff member of `role` signed in to the console.
async fn signed_in(app: &TestApp, login: &str, role: Role) -> Browser {
    app.staff(login, role).await;
    let mut browser = Browser::new(app);
    let page = browser.sign_in(login, "staff-password").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), "/console/dashboard");
    browser
}

/// A store waiting for approval, created over the API by an administrator.
async fn pending_store(app: &TestApp, admin: &str) -> i64 {
    let res = app
        .post(
            paths::ADMIN_STORES,
            Some(admin),
            None,
            &store_request("みどり商店"),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json::<StoreDetail>().await.unwrap().id
}

async fn store_status(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM stores WHERE id = $1")
        .bind(id)
        .fetch_one(app.db.reader())
        .await
        .unwrap()
}

async fn actions(app: &TestApp) -> Vec<String> {
    audit::all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn pages_need_a_signed_in_staff_member() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    for path in [
        "/console/dashboard",
        "/console/residents",
        "/console/stores",
        "/console/sale",
        "/console/points",
        "/console/points/1",
        "/console/payments",
        "/console/settlement",
        "/console/reports",
        "/console/audit",
        "/console/audit.csv",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), "/console/login", "{path}");
    }
    // A resident's right password does not open the console.
    let (_, _) = app.resident("09011112222").await;
    let page = browser.sign_in("09011112222", "midori-password").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!browser.cookies.contains_key("chiiki_console"));
}

#[tokio::test]
async fn every_page_renders_for_a_viewer() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = pending_store(&app, &admin).await;
    let event = points_event(&app, &admin).await;
    let mut viewer = signed_in(&app, "viewer", Role::Viewer).await;
    for path in [
        "/console/dashboard".to_string(),
        "/console/points".to_string(),
        format!("/console/points/{}", event.id),
        "/console/residents?kind=kana&q=%E3%83%9F%E3%83%89%E3%83%AA".to_string(),
        "/console/stores".to_string(),
        format!("/console/stores/{store}"),
        "/console/sale".to_string(),
        "/console/payments".to_string(),
        "/console/settlement".to_string(),
        "/console/reports?month=2024-11".to_string(),
        "/console/audit".to_string(),
    ] {
        let page = viewer.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert!(page.body.contains("職員コンソール"), "{path}");
        assert_eq!(
            page.headers.get("cache-control").unwrap(),
            "no-store",
            "{path}"
        );
        // Viewers see no forms that change anything, only the sign-out form.
        assert_eq!(page.body.matches("method=\"post\"").count(), 1, "{path}");
    }
}

#[tokio::test]
async fn a_viewer_cannot_change_anything() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = pending_store(&app, &admin).await;
    let (resident, token) = app.resident("09012345678").await;
    app.charge(&admin, resident, 5000).await;
    let shop = app.approved_store(&admin, "みどり食堂").await;
    let res = app.pay(&token, "pay-1", shop.id, 1200, "1234").await;
    assert_eq!(res.status(), 201);
    let payment: PaymentReceipt = res.json().await.unwrap();
    let event = points_event(&app, &admin).await;
    let event_form = event_fields("変えられてはいけない", "100");

    let mut viewer = signed_in(&app, "viewer", Role::Viewer).await;
    // A valid token of the viewer's own session: only the role stops these.
    let csrf = viewer.get("/console/dashboard").await.csrf();
    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/console/stores/{store}/decision"),
            vec![("decision", "approve")],
        ),
        (
            format!("/console/payments/{}/refund", payment.payment_id),
            vec![
                ("amount", "1200"),
                ("reason", "誤り"),
                ("refunded_seen", "0"),
            ],
        ),
        (
            format!("/console/residents/{resident}/unlock"),
            vec![("reason", "本人確認済み")],
        ),
        ("/console/sale/commit".to_string(), vec![]),
        ("/console/sale/expire".to_string(), vec![]),
        (
            "/console/settlement/close".to_string(),
            vec![("period", "2024-11")],
        ),
        ("/console/points".to_string(), event_form.clone()),
        (format!("/console/points/{}", event.id), event_form),
        (format!("/console/points/{}/printed-code", event.id), vec![]),
    ];
    for (path, fields) in attempts {
        let mut fields = fields;
        fields.push(("csrf", &csrf));
        let page = viewer.post(&path, &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
    }
    assert_eq!(store_status(&app, store).await, "pending");
    let refunded: i64 = sqlx::query_scalar("SELECT refunded FROM operations WHERE id = $1")
        .bind(payment.payment_id)
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(refunded, 0);
    let events: Vec<PointsEvent> = app
        .get(paths::ADMIN_POINTS_EVENTS, Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(events, vec![event], "no event created or changed");
    let points_actions: Vec<String> = actions(&app)
        .await
        .into_iter()
        .filter(|a| a.starts_with("points."))
        .collect();
    assert_eq!(
        points_actions,
        vec!["points.event_create".to_string()],
        "only the API's own creation is audited"
    );
    // The transfer file holds bank accounts: not for viewers either.
    let page = viewer.get("/console/settlement/2024-11/zengin").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn forms_without_this_sessions_token_are_refused() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = pending_store(&app, &admin).await;
    let mut operator = signed_in(&app, "operator", Role::Operator).await;
    let mut other = signed_in(&app, "operator2", Role::Operator).await;
    let others_token = other.get("/console/dashboard").await.csrf();
    let path = format!("/console/stores/{store}/decision");
    for token in ["", "garbage", "a.b.c", others_token.as_str()] {
        let page = operator
            .post(&path, &[("csrf", token), ("decision", "approve")])
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "token {token:?}");
    }
    assert_eq!(store_status(&app, store).await, "pending");
    // The sign-in form too: a token without its cookie is refused before the password.
    let mut stranger = Browser::new(&app);
    let token = stranger.get("/console/login").await.csrf();
    stranger.cookies.clear();
    let page = stranger
        .post(
            "/console/login",
            &[
                ("csrf", &token),
                ("login", "operator"),
                ("password", "staff-password"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!stranger.cookies.contains_key("chiiki_console"));
    // With its own token the same form goes through.
    let csrf = operator
        .get(&format!("/console/stores/{store}"))
        .await
        .csrf();
    let page = operator
        .post(&path, &[("csrf", &csrf), ("decision", "approve")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(store_status(&app, store).await, "approved");
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_login() {
    let app = spawn_app().await;
    app.staff("operator", Role::Operator).await;
    let mut browser = Browser::new(&app);
    for _ in 0..chiiki_backend::console::session::MAX_FAILURES {
        let page = browser.sign_in("operator", "wrong-password").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert!(page.body.contains("パスワードが違います"));
    }
    // Locked: even the right password is refused, and says until when.
    let page = browser.sign_in("operator", "staff-password").await;
    assert_eq!(page.status, StatusCode::LOCKED, "{}", page.body);
    assert!(page.body.contains("まで使えません"));
    assert!(!browser.cookies.contains_key("chiiki_console"));
    // Other logins are not affected.
    app.staff("viewer", Role::Viewer).await;
    let page = Browser::new(&app).sign_in("viewer", "staff-password").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    // After the lock has run out the right password works again.
    app.clock.advance(chrono::Duration::minutes(
        chiiki_backend::console::session::LOCK_MINUTES + 1,
    ));
    let page = browser.sign_in("operator", "staff-password").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let logged = actions(&app).await;
    assert_eq!(
        logged
            .iter()
            .filter(|a| *a == "console.login_failed")
            .count(),
        5
    );
    assert!(logged.contains(&"console.login_locked".to_string()));
    assert_eq!(logged.iter().filter(|a| *a == "console.login").count(), 2);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_and_secure_over_tls() {
    let app = spawn_app().await;
    app.staff("operator", Role::Operator).await;
    let mut browser = Browser::new(&app);
    let page = browser.sign_in("operator", "staff-password").await;
    let session = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("chiiki_console="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    assert!(session.contains("Path=/console"), "{session}");
    // Plain HTTP (a local demo): a Secure cookie would never come back.
    assert!(!session.contains("Secure"), "{session}");
    // Behind a proxy that terminated TLS, the cookie is Secure.
    let form = browser.get("/console/login").await;
    let res = browser
        .http
        .post(format!("{}/console/login", app.base))
        .header("cookie", browser.cookie_header())
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encode(&[
            ("csrf", &form.csrf()),
            ("login", "operator"),
            ("password", "staff-password"),
        ]))
        .send()
        .await
        .unwrap();
    let page = browser.read(res).await;
    let session = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("chiiki_console="))
        .expect("session cookie");
    assert!(session.contains("Secure"), "{session}");
    // Signing out ends the session on the server, not just in the browser.
    let token = browser.cookies.get("chiiki_console").cloned().unwrap();
    let csrf = browser.get("/console/dashboard").await.csrf();
    let page = browser.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    browser
        .cookies
        .insert("chiiki_console".into(), token.clone());
    let page = browser.get("/console/dashboard").await;
    assert_eq!(page.location(), "/console/login");
}

#[tokio::test]
async fn staff_actions_are_audited_and_tampering_is_detected() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let store = pending_store(&app, &admin).await;
    let (resident, token) = app.resident("09012345678").await;
    app.charge(&admin, resident, 5000).await;
    let shop = app.approved_store(&admin, "みどり食堂").await;
    let res = app.pay(&token, "pay-1", shop.id, 1200, "1234").await;
    let payment: PaymentReceipt = res.json().await.unwrap();

    let mut operator = signed_in(&app, "operator", Role::Operator).await;
    let csrf = operator
        .get(&format!("/console/stores/{store}"))
        .await
        .csrf();
    let page = operator
        .post(
            &format!("/console/stores/{store}/decision"),
            &[("csrf", &csrf), ("decision", "approve")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let detail = operator
        .get(&format!("/console/payments/{}", payment.payment_id))
        .await;
    let refund_path = format!("/console/payments/{}/refund", payment.payment_id);
    let fields = [
        ("csrf", detail.csrf()),
        ("amount", "500".to_string()),
        ("reason", "二重に打った分".to_string()),
        ("refunded_seen", "0".to_string()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = operator.post(&refund_path, &fields).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    // The same form sent again (a double click) refunds nothing more.
    let page = operator.post(&refund_path, &fields).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    let refunded: i64 = sqlx::query_scalar("SELECT refunded FROM operations WHERE id = $1")
        .bind(payment.payment_id)
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(refunded, 500);
    app.check_ledger().await;

    let entries = audit::all(&app.db).await.unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    // The API's own staff actions are in it too (charge, store creation and approval).
    for wanted in [
        "resident.charge",
        "store.create",
        "store.approve",
        "console.login",
        "payment.refund",
    ] {
        assert!(names.contains(&wanted), "{wanted} in {names:?}");
    }
    let refund = entries
        .iter()
        .find(|e| e.action == "payment.refund")
        .unwrap();
    assert_eq!(
        refund.actor,
        format!("staff:{}", staff_id(&app, "operator").await)
    );
    assert_eq!(refund.ip, "127.0.0.1");
    assert!(refund.detail.contains("二重に打った分"));
    assert_eq!(audit::verify(&app.db).await.unwrap().problems, vec![]);
    let page = operator.get("/console/audit").await;
    assert!(page.body.contains("改ざんは見つかりません"));
    let csv = operator.get("/console/audit.csv").await;
    assert!(csv.body.starts_with('\u{feff}'));
    assert!(csv.body.contains("payment.refund"));
    cli_verify(&app, true);

    // The database refuses edits and deletions of the log...
    let edit = sqlx::query("UPDATE audit_log SET detail = '{}' WHERE seq = 2")
        .execute(app.db.writer())
        .await;
    assert!(edit.is_err(), "the audit log must refuse UPDATE");
    let delete = sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(app.db.writer())
        .await;
    assert!(delete.is_err(), "the audit log must refuse DELETE");

    // ...and someone who gets round that is caught by the chain.
    let drop_triggers: &[&str] = match engine_name(&app.db) {
        "sqlite" => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ],
        _ => &["DROP TRIGGER audit_log_no_update ON audit_log"],
    };
    for sql in drop_triggers {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(app.db.writer())
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_log SET detail = $1 WHERE action = 'payment.refund'")
        .bind(r#"{"amount":5}"#)
        .execute(app.db.writer())
        .await
        .unwrap();
    let problems = audit::verify(&app.db).await.unwrap().problems;
    assert_eq!(problems, vec![audit::Problem::Edited { seq: refund.seq }]);
    cli_verify(&app, false);
    let page = operator.get("/console/audit").await;
    assert!(page.body.contains("改ざんの跡があります"));

    // Put it back, then remove an entry instead.
    sqlx::query("UPDATE audit_log SET detail = $1 WHERE seq = $2")
        .bind(&refund.detail)
        .bind(refund.seq)
        .execute(app.db.writer())
        .await
        .unwrap();
    assert_eq!(audit::verify(&app.db).await.unwrap().problems, vec![]);
    sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(app.db.writer())
        .await
        .unwrap();
    let problems = audit::verify(&app.db).await.unwrap().problems;
    assert!(
        problems.contains(&audit::Problem::Missing { from: 2, to: 2 }),
        "{problems:?}"
    );
    cli_verify(&app, false);

    // Cutting the newest entries off is found through the head.
    let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = $1")
        .bind(last)
        .execute(app.db.writer())
        .await
        .unwrap();
    let problems = audit::verify(&app.db).await.unwrap().problems;
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, audit::Problem::HeadMismatch { .. })),
        "{problems:?}"
    );
}

async fn staff_id(app: &TestApp, login: &str) -> i64 {
    sqlx::query_scalar("SELECT principal_id FROM credentials WHERE login = $1")
        .bind(login)
        .fetch_one(app.db.reader())
        .await
        .unwrap()
}

/// Runs `chiiki audit verify` on the test's database and checks its verdict.
fn cli_verify(app: &TestApp, intact: bool) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chiiki"))
        .args(["audit", "verify", "--database-url", &app.url])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run chiiki");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.success(), intact, "{stdout}");
    if intact {
        assert!(stdout.contains("audit log intact"), "{stdout}");
    } else {
        assert!(stdout.contains("TAMPERED"), "{stdout}");
    }
}

#[tokio::test]
async fn concurrent_audited_actions_keep_one_unbroken_chain() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for n in 0..20 {
        let db = app.db.clone();
        tasks.push(tokio::spawn(async move {
            let action = audit::Action::new(format!("staff:{n}"), "127.0.0.1", "test.parallel");
            audit::record(&db, &action, common::in_usage()).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let verified = audit::verify(&app.db).await.unwrap();
    assert_eq!(verified.entries, 20);
    assert_eq!(verified.problems, vec![]);
}

// ---------------------------------------------------------------------------------------------
// Winners paying at the counter

fn jst_at(y: i32, m: u32, d: u32, h: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chiiki_core::time::jst()
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Residents who each applied for `sets` sets, drawn (all win: Midori sells 60,000 sets);
/// the clock is then in the winners' payment period (2024-11-05 JST). Each is
/// (resident id, resident token, order id).
async fn drawn_winners(app: &TestApp, phones: &[&str], sets: i64) -> Vec<(i64, String, i64)> {
    use chiiki_backend::sale::lottery::{self, Seed};
    app.clock.set(jst_at(2024, 10, 10, 12));
    let mut people = Vec::new();
    for phone in phones {
        let (id, token) = app.resident(phone).await;
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
    let closed = jst_at(2024, 10, 25, 10);
    let seed = Seed::generate().unwrap();
    lottery::commit(
        &app.db,
        &app.programme,
        &seed.commitment(),
        "staff:1",
        closed,
    )
    .await
    .unwrap();
    lottery::draw(&app.db, &app.programme, &seed, "staff:1", closed)
        .await
        .unwrap();
    app.clock.set(jst_at(2024, 11, 5, 10));
    let mut out = Vec::new();
    for (id, token) in people {
        let mine: MySale = app
            .get(paths::ME_SALE, Some(&token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(mine.orders[0].status, OrderStatus::Due);
        out.push((id, token, mine.orders[0].order_id));
    }
    out
}

async fn premium_balance(app: &TestApp, token: &str) -> Yen {
    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(token))
        .await
        .json()
        .await
        .unwrap();
    balance
        .purses
        .iter()
        .filter(|p| p.kind == PurseKind::Premium)
        .map(|p| p.balance)
        .sum()
}

async fn purchases_of(app: &TestApp, resident: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM operations WHERE kind = 'purchase' AND resident_id = $1",
    )
    .bind(resident)
    .fetch_one(app.db.reader())
    .await
    .unwrap()
}

/// The winners' counter payment form of the Sale page, sent.
async fn pay_at_counter(
    browser: &mut Browser,
    csrf: &str,
    order: i64,
    resident: i64,
    receipt: &str,
) -> Page {
    browser
        .post(
            "/console/sale/order-payment",
            &[
                ("csrf", csrf),
                ("order_id", &order.to_string()),
                ("resident_id", &resident.to_string()),
                ("receipt_number", receipt),
            ],
        )
        .await
}

#[tokio::test]
async fn an_operator_records_a_winners_counter_payment_once() {
    let app = spawn_app().await;
    let winners = drawn_winners(&app, &["09011110001", "09011110002"], 2).await;
    let (resident, token, order) = winners[0].clone();
    let (late_resident, late_token, late_order) = winners[1].clone();
    let mut operator = signed_in(&app, "operator", Role::Operator).await;

    // The page lists the unpaid orders with the amount and the deadline in JST.
    let sale = operator.get("/console/sale").await;
    assert_eq!(sale.status, StatusCode::OK);
    assert!(
        sale.body.contains("id=\"unpaid-count\">2件"),
        "{}",
        sale.body
    );
    assert!(sale.body.contains(&format!("id=\"unpaid-{order}\"")));
    assert!(sale.body.contains("¥10,000"));
    assert!(sale.body.contains("2024年12月1日 00:00"), "{}", sale.body);
    let narrowed = operator
        .get(&format!("/console/sale?resident={late_resident}"))
        .await;
    assert!(narrowed.body.contains("id=\"unpaid-count\">1件"));
    assert!(!narrowed.body.contains(&format!("id=\"unpaid-{order}\"")));
    let csrf = sale.csrf();

    // A mistyped order id (another resident's order) issues nothing.
    let page = pay_at_counter(&mut operator, &csrf, order, late_resident, "R-0001").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("住民番号"), "{}", page.body);
    assert_eq!(purchases_of(&app, resident).await, 0);

    let page = pay_at_counter(&mut operator, &csrf, order, resident, "R-0001").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), "/console/sale?done=paid");
    assert_eq!(premium_balance(&app, &token).await, Yen(2 * 6_500));
    let after = operator.get(page.location()).await;
    assert!(after.body.contains("商品券を発行しました"));
    assert!(after.body.contains("id=\"unpaid-count\">1件"));
    assert!(
        after.body.contains("R-0001"),
        "listed with the counter orders"
    );

    // The same form again (a double click): said so, nothing more issued or audited.
    let page = pay_at_counter(&mut operator, &csrf, order, resident, "R-0001").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/console/sale?done=paid-before");
    let again = operator.get(page.location()).await;
    assert!(again.body.contains("新たな発行はしていません"));
    // Another receipt number for the paid order: refused as already paid.
    let page = pay_at_counter(&mut operator, &csrf, order, resident, "R-0002").await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("お支払い済みです"), "{}", page.body);
    assert_eq!(premium_balance(&app, &token).await, Yen(13_000));
    assert_eq!(purchases_of(&app, resident).await, 1);

    let page = pay_at_counter(&mut operator, &csrf, 999_999, resident, "R-0003").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("見つかりません"), "{}", page.body);

    // Past the winners' deadline (2024-12-01 00:00 JST) the order has lapsed.
    app.clock.set(jst_at(2024, 12, 5, 10));
    // Staff sessions last hours, not weeks: sign in again.
    let mut operator = signed_in(&app, "operator2", Role::Operator).await;
    let csrf = operator.get("/console/sale").await.csrf();
    let page = pay_at_counter(&mut operator, &csrf, late_order, late_resident, "R-0004").await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("期限"), "{}", page.body);
    assert_eq!(premium_balance(&app, &late_token).await, Yen::ZERO);
    let sale = operator.get("/console/sale").await;
    assert!(sale.body.contains("id=\"unpaid-count\">0件"));

    let recorded: Vec<audit::Entry> = audit::all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "sale.counter_payment")
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].target, format!("order:{order}"));
    assert!(recorded[0].detail.contains("R-0001"));
    assert_eq!(audit::verify(&app.db).await.unwrap().problems, vec![]);
    app.check_ledger().await;
}

#[tokio::test]
async fn a_viewer_cannot_record_a_winners_counter_payment() {
    let app = spawn_app().await;
    let winners = drawn_winners(&app, &["09011110003"], 1).await;
    let (resident, token, order) = winners[0].clone();
    let mut viewer = signed_in(&app, "viewer", Role::Viewer).await;
    let sale = viewer.get("/console/sale").await;
    assert_eq!(sale.status, StatusCode::OK);
    // The list is there to read; the form is not.
    assert!(sale.body.contains(&format!("id=\"unpaid-{order}\"")));
    assert!(!sale.body.contains("/console/sale/order-payment"));
    let csrf = viewer.get("/console/dashboard").await.csrf();
    let page = viewer
        .post(
            "/console/sale/order-payment",
            &[
                ("csrf", &csrf),
                ("order_id", &order.to_string()),
                ("resident_id", &resident.to_string()),
                ("receipt_number", "R-0100"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert_eq!(premium_balance(&app, &token).await, Yen::ZERO);
    assert_eq!(purchases_of(&app, resident).await, 0);
    let status: String = sqlx::query_scalar("SELECT status FROM sale_orders WHERE id = $1")
        .bind(order)
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(status, "due");
    assert!(
        !actions(&app)
            .await
            .contains(&"sale.counter_payment".to_string())
    );
}

/// A points event defined over the admin API, inside Midori's usage window.
async fn points_event(app: &TestApp, admin: &str) -> PointsEvent {
    let spec = PointsEventSpec {
        name: "朝のラジオ体操".into(),
        place: "鹿の川沼公園".into(),
        description: String::new(),
        points: Yen(10),
        starts_at: common::in_usage() - chrono::Duration::days(1),
        ends_at: common::in_usage() + chrono::Duration::days(10),
        capacity: Some(100),
        frequency: PointsFrequency::Daily,
    };
    let res = app
        .post(paths::ADMIN_POINTS_EVENTS, Some(admin), None, &spec)
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// The console's event form as a browser sends it (JST wall-clock times).
fn event_fields<'a>(name: &'a str, points: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("place", "大間々町 高津戸峡 河川敷"),
        ("description", "ごみ袋と軍手は受付でお渡しします。"),
        ("points", points),
        ("starts_at", "2024-12-01T09:00"),
        ("ends_at", "2024-12-01T17:00"),
        ("capacity", "2"),
        ("frequency", "once"),
    ]
}

fn with_csrf<'a>(mut fields: Vec<(&'a str, &'a str)>, csrf: &'a str) -> Vec<(&'a str, &'a str)> {
    fields.push(("csrf", csrf));
    fields
}

async fn console_events(app: &TestApp, admin: &str) -> Vec<PointsEvent> {
    let res = app.get(paths::ADMIN_POINTS_EVENTS, Some(admin)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn an_operator_defines_and_changes_a_points_event_in_the_console() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let mut operator = signed_in(&app, "operator", Role::Operator).await;
    let list = operator.get("/console/points").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains("イベントはまだありません"),
        "{}",
        list.body
    );
    let csrf = list.csrf();

    // A form that does not pass comes back with what was typed and why; nothing is stored.
    let mut bad = event_fields("河川敷クリーン作戦", "100");
    bad[5] = ("ends_at", "2024-12-01T08:00");
    let page = operator
        .post("/console/points", &with_csrf(bad, &csrf))
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("終了: 終了は開始より後にしてください。"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("ごみ袋と軍手は受付でお渡しします。"),
        "kept as typed"
    );
    for (field, value, says) in [
        ("points", "百", "ポイント数を半角数字で"),
        ("points", "0", "ポイント数: 1〜10000ポイント"),
        ("starts_at", "12/1 9時", "開始: 日時を"),
        ("capacity", "-1", "定員: 定員は1人以上"),
        ("frequency", "weekly", "参加の回数を選んで"),
        ("name", " ", "イベント名: 100文字以内"),
    ] {
        let mut fields: Vec<(&str, &str)> = event_fields("河川敷クリーン作戦", "100")
            .into_iter()
            .filter(|(k, _)| *k != field)
            .collect();
        fields.push((field, value));
        let page = operator
            .post("/console/points", &with_csrf(fields, &csrf))
            .await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}"
        );
        assert!(page.body.contains(says), "{field}={value}: {}", page.body);
    }
    assert!(console_events(&app, &admin).await.is_empty());

    // Defined: 09:00–17:00 JST is 00:00–08:00 UTC.
    let page = operator
        .post(
            "/console/points",
            &with_csrf(event_fields("河川敷クリーン作戦", "100"), &csrf),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let events = console_events(&app, &admin).await;
    assert_eq!(events.len(), 1);
    let event = events[0].clone();
    assert_eq!(
        page.location(),
        format!("/console/points/{}?done=created", event.id)
    );
    assert_eq!(event.name, "河川敷クリーン作戦");
    assert_eq!(event.points, Yen(100));
    assert_eq!(event.starts_at.to_rfc3339(), "2024-12-01T00:00:00+00:00");
    assert_eq!(event.ends_at.to_rfc3339(), "2024-12-01T08:00:00+00:00");
    assert_eq!(event.capacity, Some(2));
    assert_eq!(event.frequency, PointsFrequency::Once);

    // Its page shows it in JST, links the venue screen and holds the form as it was typed.
    let shown = operator.get(page.location()).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("イベントを登録しました"));
    assert!(
        shown
            .body
            .contains("2024年12月1日 09:00 〜 2024年12月1日 17:00"),
        "{}",
        shown.body
    );
    assert!(
        shown
            .body
            .contains(&format!("href=\"{}\"", event.venue_path))
    );
    assert!(shown.body.contains("value=\"2024-12-01T09:00\""));
    let venue = app.get(&event.venue_path, None).await;
    assert_eq!(venue.status(), 200);
    assert!(venue.text().await.unwrap().contains("河川敷クリーン作戦"));

    // Changed: one more place, another capacity; the list shows the new figures.
    let mut changed = event_fields("河川敷クリーン作戦（秋）", "120");
    changed[6] = ("capacity", "");
    let page = operator
        .post(
            &format!("/console/points/{}", event.id),
            &with_csrf(changed, &csrf),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        page.location(),
        format!("/console/points/{}?done=changed", event.id)
    );
    let after = console_events(&app, &admin).await;
    assert_eq!(after[0].name, "河川敷クリーン作戦（秋）");
    assert_eq!(after[0].points, Yen(120));
    assert_eq!(after[0].capacity, None);
    let list = operator.get("/console/points").await;
    assert!(list.body.contains("河川敷クリーン作戦（秋）"));
    assert!(list.body.contains("なし"), "no capacity");
    // An unknown event is not found, for reading and for changing.
    assert_eq!(
        operator.get("/console/points/999999").await.status,
        StatusCode::NOT_FOUND
    );
    let page = operator
        .post(
            "/console/points/999999",
            &with_csrf(event_fields("x", "1"), &csrf),
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    let entries: Vec<audit::Entry> = audit::all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("points."))
        .collect();
    let names: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(names, ["points.event_create", "points.event_update"]);
    assert!(
        entries
            .iter()
            .all(|e| e.target == format!("points_event:{}", event.id))
    );
    assert!(entries[1].detail.contains("河川敷クリーン作戦（秋）"));
    assert_eq!(audit::verify(&app.db).await.unwrap().problems, vec![]);
}

#[tokio::test]
async fn a_printed_code_from_the_console_earns_points_and_is_on_record() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let event = points_event(&app, &admin).await;
    let (_, token) = app.resident("09011110005").await;
    let mut operator = signed_in(&app, "operator", Role::Operator).await;
    let shown = operator.get(&format!("/console/points/{}", event.id)).await;
    // Asking for it is a form (it is audited), never a link that a GET would follow.
    assert!(
        !shown
            .body
            .contains(&format!("href=\"/console/points/{}/printed-code", event.id))
    );
    let csrf = shown.csrf();
    let page = operator
        .post(
            &format!("/console/points/{}/printed-code", event.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<svg"), "the code to print");
    assert!(page.body.contains("参加で <strong>10ポイント</strong>"));
    let marker = "id=\"printed-payload\">";
    let start = page.body.find(marker).unwrap() + marker.len();
    let end = page.body[start..].find('<').unwrap() + start;
    let payload = page.body[start..end].to_string();
    assert!(payload.starts_with("CKE:"), "{payload}");

    // The code on the paper is the city's: a resident who scans it earns the event's points.
    let res = app
        .post(
            paths::ME_POINTS_CLAIMS,
            Some(&token),
            Some("claim-printed-1"),
            &PointsClaimRequest { payload },
        )
        .await;
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let receipt: PointsClaimReceipt = res.json().await.unwrap();
    assert_eq!(receipt.points, Yen(10));

    let printed: Vec<audit::Entry> = audit::all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "points.printed_code")
        .collect();
    assert_eq!(printed.len(), 1);
    assert_eq!(printed[0].target, format!("points_event:{}", event.id));
    assert!(printed[0].actor.starts_with("staff:"));
    app.check_ledger().await;
}
