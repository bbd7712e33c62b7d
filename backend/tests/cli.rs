//! The `chiiki` binary itself: `chiiki demo` serves the demo data set with the logins the
//! README lists, and `chiiki staff add` + `chiiki serve` bring up an empty system.

use chiiki_core::protocol::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_ready(base: &str) {
    let started = Instant::now();
    loop {
        if let Ok(res) = reqwest::get(format!("{base}/readyz")).await
            && res.status() == 200
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn login(base: &str, login: &str, password: &str) -> SessionCreated {
    let res = reqwest::Client::new()
        .post(format!("{base}{}", paths::SESSIONS))
        .json(&CreateSession {
            login: login.into(),
            password: password.into(),
            device_name: "cli test".into(),
            public_key: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "login {login}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_demo_serves_midori_with_the_documented_logins() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chiiki"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}"), "--file"])
        .arg(dir.path().join("demo.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base).await;
    let printed: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.contains("store "))
        .collect();
    let printed = printed.join("\n");
    assert!(
        printed.contains("staff     admin / chiiki-demo-admin"),
        "{printed}"
    );
    assert!(
        printed.contains("resident  09000000001 / chiiki-demo-resident   PIN 1234"),
        "{printed}"
    );

    let staff = login(&base, "admin", "chiiki-demo-admin").await;
    assert_eq!(staff.role, Role::Administrator);
    let store = login(&base, "S0001", "chiiki-demo-store").await;
    assert_eq!(store.role, Role::StoreStaff);
    let resident = login(&base, "09000000001", "chiiki-demo-resident").await;
    let http = reqwest::Client::new();
    let balance: Balance = http
        .get(format!("{base}{}", paths::ME_BALANCE))
        .bearer_auth(&resident.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        balance.total,
        chiiki_core::Yen(2 * 6500 + 3000 - 1200 - 860 - 2400)
    );
    let directory: StoreDirectory = http
        .get(format!("{base}{}", paths::STORES))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(directory.stores.len(), 20);
    let districts: std::collections::BTreeSet<_> = directory
        .stores
        .iter()
        .map(|s| s.district.as_str())
        .collect();
    assert_eq!(districts.len(), 3);

    // The demo's programme is moved so that today is a day to pay on.
    let code: StoreCode = http
        .get(format!(
            "{base}{}",
            paths::store_code(directory.stores[0].id)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = http
        .post(format!("{base}{}", paths::PAYMENTS))
        .bearer_auth(&resident.token)
        .header(IDEMPOTENCY_KEY_HEADER, "demo-test")
        .json(&PaymentRequest {
            store_id: None,
            store_code: Some(code.payload),
            amount: chiiki_core::Yen(500),
            pin: "1234".into(),
            use_points: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn staff_add_then_serve_brings_up_an_empty_system() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/chiiki.db", dir.path().display());
    add_root(&url);
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_chiiki"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &url,
            "--shift-to-today",
            "--log-format",
            "json",
        ])
        .arg("--keys-file")
        .arg(dir.path().join("keys.toml"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base).await;
    assert_eq!(
        login(&base, "root", "a-long-password").await.role,
        Role::Administrator
    );
    let info: ProgrammeInfo = reqwest::get(format!("{base}{}", paths::PROGRAMME))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let today = chiiki_core::time::jst_date(chrono::Utc::now());
    assert!(info.usage.first_day <= today && today <= info.usage.last_day);

    let bad = Command::new(env!("CARGO_BIN_EXE_chiiki"))
        .args([
            "serve",
            "--database-url",
            "mysql://nope",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--keys-file")
        .arg(dir.path().join("keys.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!bad.success(), "an unsupported database is refused");
}

/// `chiiki staff add` of an administrator `root` / `a-long-password`.
fn add_root(url: &str) {
    let status = chiiki()
        .args(["staff", "add", "--database-url", url, "--login", "root"])
        .args(["--role", "administrator"])
        .env("CHIIKI_STAFF_PASSWORD", "a-long-password")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

fn chiiki() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chiiki"))
}

async fn wait_ready_with(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    loop {
        if let Ok(res) = client.get(format!("{base}/readyz")).send().await
            && res.status() == 200
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn serve_terminates_tls_itself_and_sends_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = generated.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        generated.signing_key.serialize_pem(),
    )
    .unwrap();
    let port = free_port();
    let url = format!("sqlite://{}/chiiki.db", dir.path().display());
    let child = chiiki()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &url,
        ])
        .arg("--keys-file")
        .arg(dir.path().join("keys.toml"))
        .arg("--tls-cert")
        .arg(dir.path().join("cert.pem"))
        .arg("--tls-key")
        .arg(dir.path().join("key.pem"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let base = format!("https://localhost:{port}");
    wait_ready_with(&client, &base).await;
    let res = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    // Plain HTTP on the TLS port gets nowhere.
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
}

/// Registers, signs in and pays through a real server that keeps JSON logs, then looks for the
/// resident's personal data in every log line: there must be none. Also exports the logs.
#[tokio::test]
async fn logs_record_requests_but_never_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let url = format!("sqlite://{}/chiiki.db", dir.path().display());
    add_root(&url);
    let port = free_port();
    let stderr_file = dir.path().join("stderr.log");
    let child = chiiki()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &url,
            "--shift-to-today",
            "--log-format",
            "json",
        ])
        .arg("--keys-file")
        .arg(dir.path().join("keys.toml"))
        .arg("--log-dir")
        .arg(&logs)
        .env("RUST_LOG", "debug,hyper=info,h2=info,tower=info")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_file).unwrap())
        .spawn()
        .unwrap();
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base).await;
    let http = reqwest::Client::new();
    let secret = RegisterResident {
        name: "秘密 太郎".into(),
        kana: "ヒミツ タロウ".into(),
        birth_date: chrono::NaiveDate::from_ymd_opt(1961, 7, 23).unwrap(),
        postal_code: "376-0101".into(),
        address: "大間々987-654".into(),
        district: "大間々町".into(),
        phone: "08099887766".into(),
        email: Some("himitsu.taro@example.jp".into()),
        password: "hidden-password-42".into(),
        pin: "864213".into(),
    };
    let res = http
        .post(format!("{base}{}", paths::RESIDENTS))
        .json(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let resident = login(&base, "08099887766", "hidden-password-42").await;
    let admin = login(&base, "root", "a-long-password").await;
    let me: Me = http
        .get(format!("{base}{}", paths::ME))
        .bearer_auth(&resident.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resident_id = me.resident.unwrap().resident_id;
    let res = http
        .post(format!("{base}{}", paths::ADMIN_CHARGES))
        .bearer_auth(&admin.token)
        .header(IDEMPOTENCY_KEY_HEADER, "c1")
        .json(&ChargeRequest {
            resident_id,
            amount: chiiki_core::Yen(1000),
            method: ChargeMethod::Cash,
            receipt_number: "R1".into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .post(format!("{base}{}", paths::PAYMENTS))
        .bearer_auth(&resident.token)
        .header(IDEMPOTENCY_KEY_HEADER, "p1")
        .json(&PaymentRequest {
            store_id: Some(99),
            store_code: None,
            amount: chiiki_core::Yen(100),
            pin: "864213".into(),
            use_points: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    drop(server);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut all = std::fs::read_to_string(&stderr_file).unwrap();
    for entry in std::fs::read_dir(&logs).unwrap() {
        all.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert!(all.contains("chiiki::access"), "access lines are logged");
    for personal in [
        "秘密",
        "ヒミツ",
        "1961-07-23",
        "大間々987",
        "08099887766",
        "080-9988",
        "himitsu",
        "hidden-password",
        "864213",
        &resident.token,
        &admin.token,
    ] {
        assert!(!all.contains(personal), "{personal:?} appears in the logs");
    }

    let today = chiiki_core::time::jst_date(chrono::Utc::now()).to_string();
    let out = chiiki()
        .args([
            "logs", "export", "--kind", "access", "--from", &today, "--to", &today,
        ])
        .arg("--from-dir")
        .arg(&logs)
        .output()
        .unwrap();
    assert!(out.status.success());
    let exported = String::from_utf8(out.stdout).unwrap();
    assert!(exported.lines().count() >= 5, "{exported}");
    assert!(exported.lines().all(|l| l.contains("\"chiiki::access\"")));
    let out = chiiki()
        .args([
            "logs",
            "export",
            "--kind",
            "operation",
            "--from",
            &today,
            "--to",
            &today,
        ])
        .arg("--from-dir")
        .arg(&logs)
        .output()
        .unwrap();
    let operations = String::from_utf8(out.stdout).unwrap();
    assert!(
        operations.contains("staff signed in") && operations.contains("charge"),
        "{operations}"
    );
}

#[tokio::test]
async fn backup_and_restore_round_trip_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/chiiki.db", dir.path().display());
    let backups = dir.path().join("backups");
    add_root(&url);
    for _ in 0..9 {
        let status = chiiki()
            .args(["backup", "--database-url", &url, "--keep", "7"])
            .arg("--dir")
            .arg(&backups)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let mut kept: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 7, "seven generations are kept");
    let restored = format!("sqlite://{}/restored.db", dir.path().display());
    let status = chiiki()
        .args(["restore", "--database-url", &restored])
        .arg("--from")
        .arg(kept.last().unwrap())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(dir.path().join("restored.db").exists());
    let bogus = dir.path().join("chiiki-bogus.db");
    std::fs::write(&bogus, b"not a database").unwrap();
    let status = chiiki()
        .args(["restore", "--database-url", &restored])
        .arg("--from")
        .arg(&bogus)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "a damaged backup is refused");
}
