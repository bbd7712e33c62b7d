//! `chiiki-wallet` against a real `chiiki serve` on a free local port with its own SQLite
//! file: a resident registers, is charged ¥3,000 at the counter, pays a store ¥1,200 with the
//! PIN, gets a wrong PIN explained, and — with the server gone — still sees balance, history
//! and a resident code from the offline cache. A second resident goes through the premium set
//! sale: refused outside the application window, one set taken in the additional sale, paid at
//! the counter, and the set in the balance and the history.
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

    /// Staff publish a seed's SHA-256 and draw with it (docs/sale.md): the sale moves on.
    fn draw_lottery(&self) {
        let seed = "5eed".repeat(16);
        let digest = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
        let commitment: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        self.call(
            "/api/v1/admin/sale/commitment",
            json!({ "commitment": commitment }),
        );
        self.call("/api/v1/admin/sale/draw", json!({ "seed": seed }));
    }

    /// The resident paid order `order_id` in cash at the counter.
    fn pay_at_counter(&self, order_id: i64) {
        self.call(
            &format!("/api/v1/admin/sale/orders/{order_id}/counter-payment"),
            json!({ "receipt_number": "S-0001" }),
        );
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

#[test]
fn a_resident_takes_a_set_in_the_sale_pays_at_the_counter_and_sees_it_in_the_balance() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path());
    let origin = server.origin.clone();
    let phone = dir.path().join("phone");
    let run = |args: &[&str]| wallet(&origin, &phone, args, "");

    succeeded(run(&[
        "register",
        "--name",
        "佐藤 一郎",
        "--kana",
        "さとう いちろう",
        "--birth-date",
        "1975-06-01",
        "--postal-code",
        "376-0101",
        "--district",
        "大間々町",
        "--address",
        "大間々2-3-4",
        "--phone",
        "090-2222-3333",
        "--password",
        PASSWORD,
        "--pin",
        PIN,
    ]));

    // `--shift-to-today` puts today on the first day of the additional sale: the application
    // window is over, and the sale waits for the lottery.
    let status = succeeded(run(&["sale"]));
    assert!(status.contains("1セット ¥5,000で ¥6,500分"), "{status}");
    assert!(
        status.contains("申込期間は終わりました。抽選の結果をお待ちください。"),
        "{status}"
    );
    assert!(status.contains("  申込期間 "), "{status}");

    let late = run(&["sale", "apply", "--sets", "1"]);
    assert!(!late.status.success());
    let said = text(&late.stderr);
    assert!(said.contains("申込期間（"), "{said}");
    assert!(
        said.contains("）ではないため、申込・変更・取消はできません。"),
        "{said}"
    );

    let counter = Counter::open(&origin);
    counter.draw_lottery();

    let too_many = run(&["sale", "buy", "--sets", "3"]);
    assert!(!too_many.status.success());
    let said = text(&too_many.stderr);
    assert!(said.contains("1〜2セット"), "{said}");

    let bought = succeeded(run(&["sale", "buy", "--sets", "1"]));
    assert!(
        bought.contains("1セットのお申し込みを受け付けました。¥5,000をお支払いください（"),
        "{bought}"
    );
    assert!(bought.contains("追加販売 1セット"), "{bought}");
    assert!(bought.contains("お支払い待ち"), "{bought}");
    assert!(bought.contains("  お支払い期限 "), "{bought}");
    assert!(
        bought.contains("  お支払い方法 市役所・各支所の窓口で現金で"),
        "{bought}"
    );
    let order_id: i64 = bought
        .lines()
        .find_map(|line| line.strip_prefix("お申し込み番号 "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no order number in {bought}"));

    counter.pay_at_counter(order_id);

    let balance = succeeded(run(&["balance"]));
    assert!(balance.contains("残高 ¥6,500"), "{balance}");
    assert!(
        balance.contains("  プレミアム付商品券 ¥6,500（"),
        "{balance}"
    );
    let history = succeeded(run(&["history"]));
    assert!(history.contains("+¥6,500  商品券の購入"), "{history}");
    assert!(history.contains("    プレミアム分 ¥6,500"), "{history}");
    let status = succeeded(run(&["sale"]));
    assert!(
        status.contains("お支払い済み（商品券は残高に入っています）"),
        "{status}"
    );
    assert!(
        status.contains("お持ちのセット 1セット（お一人2セットまで）"),
        "{status}"
    );

    // Without a signal the sale cannot be shown from memory: it says so, and the command fails.
    server.kill();
    let offline = run(&["sale"]);
    assert!(!offline.status.success());
    let said = text(&offline.stderr);
    assert!(
        said.contains("販売の状況を確かめられませんでした"),
        "{said}"
    );
}

impl Counter {
    /// An approved store with a staff login; gives the store's printed code.
    fn store_with_staff(&self, login: &str, password: &str) -> String {
        let code = self.approved_store();
        let store_id = chiiki_core::qr::decode_merchant_code(&code, &self.programme_id())
            .expect("our store code")
            .store_id;
        self.call(
            &format!("/api/v1/admin/stores/{store_id}/staff"),
            json!({ "login": login, "password": password }),
        );
        code
    }

    fn programme_id(&self) -> String {
        self.get("/api/v1/programme")["id"]
            .as_str()
            .expect("a programme id")
            .to_owned()
    }
}

/// Store staff log in with `chiiki-wallet store`, follow payments live, and see a resident's
/// payment land as 「¥1,200 受け取りました」; then charge the resident's own code, see today's
/// sales, and refund part of a payment.
#[test]
fn a_store_sees_a_residents_payment_land_live_charges_a_code_and_refunds() {
    const STORE_LOGIN: &str = "S-BAKERY";
    const STORE_PASSWORD: &str = "bakery-pass-2024";
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path());
    let origin = server.origin.clone();
    let phone = dir.path().join("phone");
    let till = dir.path().join("till");
    let resident = |args: &[&str], stdin: &str| wallet(&origin, &phone, args, stdin);
    let store = |args: &[&str]| {
        let mut all = vec!["store"];
        all.extend_from_slice(args);
        wallet(&origin, &till, &all, "")
    };

    succeeded(resident(
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
    let counter = Counter::open(&origin);
    counter.charge(3000);
    let code = counter.store_with_staff(STORE_LOGIN, STORE_PASSWORD);

    let logged_in = succeeded(store(&[
        "login",
        "--login",
        STORE_LOGIN,
        "--password",
        STORE_PASSWORD,
    ]));
    assert!(logged_in.contains("本日 0件 ¥0"), "{logged_in}");

    let amount_code = succeeded(store(&["code", "--amount", "1,200"]));
    assert!(amount_code.contains("¥1,200"), "{amount_code}");

    // The feed, in a process of its own, printing each payment as it lands.
    let mut follower = Command::new(env!("CARGO_BIN_EXE_chiiki-wallet"))
        .args(["store", "payments", "--follow"])
        .env("CHIIKI_SERVER", &origin)
        .env("CHIIKI_WALLET_DIR", &till)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the feed");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let stdout = follower.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // The first line is today's summary: the feed is set up.
    let first = lines_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the feed starts");
    assert!(first.contains("本日"), "{first}");

    // The feed subscribes right after the summary is printed; pay until it has seen one.
    let paid = succeeded(resident(
        &["pay", "--code", &code, "--amount", "1,200"],
        &format!("{PIN}\n"),
    ));
    assert!(paid.contains("¥1,200"), "{paid}");
    let seen = lines_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the payment appears in the feed");
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(seen.ends_with("¥1,200 受け取りました"), "{seen}");

    // The store charges the resident's own code.
    let shown = succeeded(resident(&["code"], ""));
    let payload = shown
        .lines()
        .find(|line| line.starts_with("CKR:"))
        .unwrap_or_else(|| panic!("no resident code in {shown}"))
        .to_owned();
    let charged = succeeded(store(&["charge", "--code", &payload, "--amount", "500"]));
    assert!(charged.contains("¥500 受け取りました"), "{charged}");
    let replayed = store(&["charge", "--code", &payload, "--amount", "500"]);
    assert!(!replayed.status.success());
    assert!(
        text(&replayed.stderr).contains("すでに使われました"),
        "{}",
        text(&replayed.stderr)
    );

    let today = succeeded(store(&["today"]));
    assert!(today.contains("本日 2件 ¥1,700"), "{today}");
    let payment_id = today
        .lines()
        .find(|l| l.contains("¥1,200"))
        .and_then(|l| l.strip_prefix('#'))
        .and_then(|l| l.split_whitespace().next())
        .expect("the ¥1,200 payment")
        .to_owned();
    let refunded = succeeded(store(&[
        "refund",
        "--payment",
        &payment_id,
        "--amount",
        "200",
        "--reason",
        "返品",
    ]));
    assert!(refunded.contains("¥200 返金しました"), "{refunded}");
    let balance = succeeded(resident(&["balance"], ""));
    assert!(balance.contains("残高 ¥1,500"), "{balance}");

    server.kill();
}

impl Counter {
    fn get_as_staff(&self, path: &str) -> Value {
        let request = self
            .client
            .get(format!("{}{path}", self.origin))
            .bearer_auth(&self.token);
        self.runtime.block_on(async {
            let response = request.send().await.expect("the server answers");
            assert!(response.status().is_success(), "GET {path}");
            response.json().await.expect("a JSON answer")
        })
    }

    /// A community event going on now, once per resident; gives its printed code (`CKE:…`).
    fn points_event(&self, name: &str, points: i64) -> String {
        let now = chrono::Utc::now();
        let event = self.call(
            "/api/v1/admin/points/events",
            json!({ "name": name, "place": "渡良瀬川河川敷", "points": points,
                    "starts_at": now - chrono::Duration::hours(1),
                    "ends_at": now + chrono::Duration::days(1),
                    "frequency": "once" }),
        );
        let id = event["id"].as_i64().expect("an event id");
        self.get_as_staff(&format!("/api/v1/admin/points/events/{id}/printed-code"))["payload"]
            .as_str()
            .expect("a payload")
            .to_owned()
    }
}

#[test]
fn a_resident_claims_an_events_points_once_and_sees_them_with_their_expiry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let origin = server.origin.clone();
    let phone = dir.path().join("phone");
    let run = |args: &[&str]| wallet(&origin, &phone, args, "");

    succeeded(run(&[
        "register",
        "--name",
        "鈴木 花子",
        "--kana",
        "すずき はなこ",
        "--birth-date",
        "1988-02-03",
        "--postal-code",
        "376-0101",
        "--district",
        "大間々町",
        "--address",
        "大間々5-6-7",
        "--phone",
        "090-4444-5555",
        "--password",
        PASSWORD,
        "--pin",
        PIN,
    ]));

    let empty = succeeded(run(&["points"]));
    assert!(empty.contains("ポイント 0ポイント"), "{empty}");
    assert!(
        empty.contains("参加したイベントはまだありません。"),
        "{empty}"
    );

    let counter = Counter::open(&origin);
    let code = counter.points_event("河川敷クリーン作戦", 100);
    assert!(code.starts_with("CKE:"), "{code}");

    let claimed = succeeded(run(&["points", "claim", "--code", &code]));
    assert!(claimed.contains("100ポイントを受け取りました"), "{claimed}");
    assert!(claimed.contains("ポイント 100ポイント"), "{claimed}");
    assert!(claimed.contains("  100ポイント  "), "{claimed}");
    assert!(claimed.contains("まで使えます"), "{claimed}");
    assert!(
        claimed.contains("河川敷クリーン作戦（渡良瀬川河川敷）  +100ポイント"),
        "{claimed}"
    );

    // The same code again: refused in the app's words, and nothing earned twice.
    let again = run(&["points", "claim", "--code", &code]);
    assert!(!again.status.success());
    let said = text(&again.stderr);
    assert!(said.contains("もう受け取っています"), "{said}");
    let points = succeeded(run(&["points"]));
    assert!(points.contains("ポイント 100ポイント"), "{points}");

    let forged = run(&["points", "claim", "--code", "CKE:nonsense"]);
    assert!(!forged.status.success());
    let said = text(&forged.stderr);
    assert!(said.contains("このQRコードでは"), "{said}");

    let balance = succeeded(run(&["balance"]));
    assert!(balance.contains("ポイント 100"), "{balance}");
}
