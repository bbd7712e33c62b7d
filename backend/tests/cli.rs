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
        if let Ok(res) = reqwest::get(format!("{base}/readyz")).await {
            if res.status() == 200 {
                return;
            }
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
    let status = Command::new(env!("CARGO_BIN_EXE_chiiki"))
        .args([
            "staff",
            "add",
            "--database-url",
            &url,
            "--login",
            "root",
            "--role",
            "administrator",
        ])
        .env("CHIIKI_STAFF_PASSWORD", "a-long-password")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
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
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!bad.success(), "an unsupported database is refused");
}
