//! `chiiki-wallet` against a real `chiiki serve` on a free local port with its own SQLite
//! file: a resident registers, is charged ¥3,000 at the counter, pays a store ¥1,200 with the
//! PIN, gets a wrong PIN explained, and — with the server gone — still sees balance, history
//! and a resident code from the offline cache.
//!
//! The server binary is `$CHIIKI_BACKEND_BIN`, or `chiiki` beside this package's binaries
//! (`cargo build -p chiiki-backend` puts it there; `cargo test --workspace` builds it too).

use std::{
    io::Write,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use chiiki_core::qr::decode_resident_code;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

const STAFF_LOGIN: &str = "counter-admin";
const STAFF_PASSWORD: &str = "counter-pass-2024";
const PHONE: &str = "090-1234-5678";
const PASSWORD: &str = "resident-pass-1";
const PIN: &str = "2468";

fn backend_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CHIIKI_BACKEND_BIN") {
        return PathBuf::from(path);
    }
    let beside = Path::new(env!("CARGO_BIN_EXE_chiiki-wallet"))
        .with_file_name(format!("chiiki{}", std::env::consts::EXE_SUFFIX));
    assert!(
        beside.exists(),
        "the server binary is missing: run `cargo build -p chiiki-backend` or set CHIIKI_BACKEND_BIN"
    );
    beside
}

/// A `chiiki serve` that is killed when the test ends, however it ends.
struct Server {
    child: Child,
    origin: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let database = format!("sqlite://{}", dir.join("chiiki.db").display());
        let staff = Command::new(backend_binary())
            .current_dir(dir)
            .args(["staff", "add", "--database-url", &database])
            .args(["--login", STAFF_LOGIN, "--password", STAFF_PASSWORD])
            .args(["--role", "administrator"])
            .output()
            .expect("run chiiki staff add");
        assert!(staff.status.success(), "staff add: {}", text(&staff.stderr));

        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // Run in the temporary directory: without a programmes/ folder the server uses its
        // compiled-in Midori programme, moved so that today is inside the usage window.
        let child = Command::new(backend_binary())
            .current_dir(dir)
            .args(["serve", "--database-url", &database])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--shift-to-today")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chiiki serve");
        let server = Server {
            child,
            origin: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chiiki serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The server disappears at once (no drain), as when a phone loses its signal.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Run `chiiki-wallet ARGS` on `data_dir`, with `stdin` typed in (the PIN).
fn wallet(server: &str, data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chiiki-wallet"))
        .args(args)
        .env("CHIIKI_SERVER", server)
        .env("CHIIKI_WALLET_DIR", data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chiiki-wallet");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("type");
    }
    child.wait_with_output().expect("chiiki-wallet ends")
}

#[track_caller]
fn succeeded(output: Output) -> String {
    assert!(
        output.status.success(),
        "chiiki-wallet failed: {}\n{}",
        text(&output.stderr),
        text(&output.stdout)
    );
    text(&output.stdout)
}

/// What the city's staff do at the counter and in the console, straight over the API.
struct Counter {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    origin: String,
    token: String,
    keys: std::cell::Cell<u32>,
}

impl Counter {
    fn open(origin: &str) -> Counter {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = reqwest::Client::new();
        let mut counter = Counter {
            runtime,
            client,
            origin: origin.to_owned(),
            token: String::new(),
            keys: std::cell::Cell::new(0),
        };
        let session = counter.call(
            "/api/v1/sessions",
            json!({ "login": STAFF_LOGIN, "password": STAFF_PASSWORD, "device_name": "窓口" }),
        );
        counter.token = session["token"].as_str().expect("a token").to_owned();
        counter
    }

    fn next_key(&self) -> u32 {
        self.keys.set(self.keys.get() + 1);
        self.keys.get()
    }

    fn call(&self, path: &str, body: Value) -> Value {
        let request = self
            .client
            .post(format!("{}{path}", self.origin))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", format!("test-{}", self.next_key()))
            .json(&body);
        self.runtime.block_on(async {
            let response = request.send().await.expect("the server answers");
            let status = response.status();
            let body: Value = response.json().await.expect("a JSON answer");
            assert!(status.is_success(), "POST {path}: {status} {body}");
            body
        })
    }

    fn get(&self, path: &str) -> Value {
        let request = self.client.get(format!("{}{path}", self.origin));
        self.runtime.block_on(async {
            let response = request.send().await.expect("the server answers");
            assert!(response.status().is_success(), "GET {path}");
            response.json().await.expect("a JSON answer")
        })
    }

    /// The counter looks the resident up by signing in with their login, as the resident
    /// shows it, and charges `amount` in cash.
    fn charge(&self, amount: i64) {
        let lookup = self.call(
            "/api/v1/sessions",
            json!({ "login": PHONE.replace('-', ""), "password": PASSWORD, "device_name": "窓口" }),
        );
        let resident_id = lookup["resident_id"].as_i64().expect("a resident");
        self.call(
            "/api/v1/admin/charges",
            json!({ "resident_id": resident_id, "amount": amount, "method": "cash",
                    "receipt_number": "R-0001" }),
        );
    }

    /// A bakery in 大間々町, approved; gives its printed store code.
    fn approved_store(&self) -> String {
        let store = self.call(
            "/api/v1/admin/stores",
            json!({ "name": "みどりベーカリー", "kana": "ミドリベーカリー",
                    "romanised_name": "MIDORI BAKERY", "industry": "bakery",
                    "district": "大間々町", "address": "大間々1-1", "postal_code": "376-0101" }),
        );
        let id = store["id"].as_i64().expect("a store id");
        self.call(&format!("/api/v1/admin/stores/{id}/approve"), json!({}));
        self.get(&format!("/api/v1/stores/{id}/code"))["payload"]
            .as_str()
            .expect("a payload")
            .to_owned()
    }
}

#[test]
fn a_resident_registers_pays_a_store_and_still_sees_everything_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path());
    let origin = server.origin.clone();
    let phone = dir.path().join("phone");
    let run = |args: &[&str], stdin: &str| wallet(&origin, &phone, args, stdin);

    let registered = succeeded(run(
        &[
            "register",
            "--name",
            "山田 花子",
            "--kana",
            "やまだ はなこ",
            "--birth-date",
            "1980-04-01",
            "--postal-code",
            "376-0101",
            "--district",
            "大間々町",
            "--address",
            "大間々1-2-3",
            "--phone",
            PHONE,
            "--password",
            PASSWORD,
            "--pin",
            PIN,
        ],
        "",
    ));
    assert!(registered.contains("山田 花子 さん"), "{registered}");
    assert!(registered.contains("残高 ¥0"), "{registered}");

    let counter = Counter::open(&origin);
    counter.charge(3000);
    let balance = succeeded(run(&["balance"], ""));
    assert!(balance.contains("残高 ¥3,000"), "{balance}");

    let code = counter.approved_store();
    let stores = succeeded(run(&["stores", "べーかりー"], ""));
    assert!(stores.contains("1件のお店"), "{stores}");
    assert!(stores.contains("みどりベーカリー"), "{stores}");

    let paid = succeeded(run(
        &["pay", "--code", &code, "--amount", "1,200"],
        &format!("{PIN}\n"),
    ));
    assert!(paid.contains("みどりベーカリー（大間々町）"), "{paid}");
    assert!(
        paid.contains("お支払いが終わりました: みどりベーカリー ¥1,200"),
        "{paid}"
    );
    assert!(paid.contains("残高 ¥1,800"), "{paid}");

    let wrong = run(&["pay", "--code", &code, "--amount", "100"], "9999\n");
    assert!(!wrong.status.success());
    assert!(
        text(&wrong.stderr).contains("暗証番号が違います"),
        "{}",
        text(&wrong.stderr)
    );

    let history = succeeded(run(&["history"], ""));
    assert!(history.contains("-¥1,200  みどりベーカリー"), "{history}");
    assert!(history.contains("+¥3,000  チャージ"), "{history}");

    // Another terminal of the same resident logs in with the phone number (as the server
    // keeps it: digits only).
    let other = dir.path().join("other-phone");
    let logged_in = succeeded(wallet(
        &origin,
        &other,
        &[
            "login",
            "--phone",
            &PHONE.replace('-', ""),
            "--password",
            PASSWORD,
        ],
        "",
    ));
    assert!(logged_in.contains("残高 ¥1,800"), "{logged_in}");

    server.kill();

    let offline = run(&["balance"], "");
    let banner = text(&offline.stderr);
    assert!(
        banner.contains("インターネットにつながっていません"),
        "{banner}"
    );
    let balance = succeeded(offline);
    assert!(balance.contains("残高 ¥1,800"), "{balance}");
    let history = succeeded(run(&["history"], ""));
    assert!(history.contains("-¥1,200  みどりベーカリー"), "{history}");

    let shown = succeeded(run(&["code"], ""));
    assert!(
        shown.contains('▀') || shown.contains('▄'),
        "a QR symbol: {shown}"
    );
    let payload = shown
        .lines()
        .find(|line| line.starts_with("CKR:"))
        .unwrap_or_else(|| panic!("no resident code in {shown}"));
    // Signed by this terminal's software device key, as the store's scanner will check.
    let pkcs8 = std::fs::read(phone.join("device-key.p256.pk8")).expect("the device key");
    let key = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &pkcs8,
        &ring::rand::SystemRandom::new(),
    )
    .expect("a P-256 key");
    let decoded = decode_resident_code(payload).expect("a resident code");
    assert_eq!(decoded.verify(key.public_key().as_ref()), Ok(()));
}
