//! The stores issue end to end, on the real server and a real database (SQLite, or
//! PostgreSQL when CHIIKI_TEST_POSTGRES is set): onboarding with bank accounts and the web
//! form, codes and posters, store mode (resident-code charges, the live feed, sales, refunds)
//! and settlement with its Zengin transfer file.

mod common;

use chiiki_backend::clock::Clock;
use chiiki_core::Yen;
use chiiki_core::protocol::*;
use common::*;
use serde_json::json;

fn application(name: &str) -> StoreApplication {
    StoreApplication {
        name: name.into(),
        kana: "みどりまーと".into(),
        romanised_name: "MIDORI MART".into(),
        industry: Industry::Supermarket,
        size_class: SizeClass::Small,
        district: "大間々町".into(),
        postal_code: "376-0101".into(),
        address: "大間々1-1-1".into(),
        representative: "緑 一郎".into(),
        contact_name: "緑 花子".into(),
        phone: "0277-00-0000".into(),
        email: Some("shop@example.jp".into()),
        bank_account: BankAccountInput {
            bank_code: "0128".into(),
            branch_code: "141".into(),
            account_type: AccountType::Ordinary,
            account_number: "123456".into(),
            holder_name: "株式会社みどりマート".into(),
        },
    }
}

async fn apply(app: &TestApp, req: &StoreApplication) -> StoreApplicationReceived {
    let res = app.post(paths::STORE_APPLICATIONS, None, None, req).await;
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.json().await.expect("received")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_applies_with_its_bank_account_and_staff_approve_it() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let viewer = app.staff("viewer", Role::Viewer).await;
    let received = apply(&app, &application("みどりマート大間々店")).await;
    assert_eq!(received.status, StoreStatus::Pending);
    let bank = &received.bank_account;
    assert_eq!(
        (bank.bank_name.as_str(), bank.branch_name.as_str()),
        ("群馬", "大間々")
    );
    assert_eq!(bank.account_number, "0123456");
    assert_eq!(bank.holder_name, "ｶ)ﾐﾄﾞﾘﾏ-ﾄ");

    // Pending applications are for staff (viewers included) to review, not public.
    let pending: StoreList = app
        .get(
            &format!("{}?status=pending", paths::ADMIN_STORES),
            Some(&viewer),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending.stores.len(), 1);
    let record = &pending.stores[0];
    assert_eq!(record.size_class, Some(SizeClass::Small));
    assert_eq!(record.representative.as_deref(), Some("緑 一郎"));
    assert_eq!(record.bank_account.as_ref(), Some(bank));
    assert!(record.applied_at.is_some());
    assert_eq!(
        error_code(app.get(&paths::store(received.store_id), None).await).await,
        (404, ErrorCode::UnknownStore)
    );
    let (_, resident) = app.resident("09010101010").await;
    assert_eq!(
        error_code(app.get(paths::ADMIN_STORES, Some(&resident)).await).await,
        (403, ErrorCode::Forbidden)
    );

    let res = app
        .post(
            &paths::approve_store(received.store_id),
            Some(&admin),
            None,
            &(),
        )
        .await;
    assert_eq!(res.status(), 200);
    let record: StoreRecord = app
        .get(&paths::admin_store(received.store_id), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record.store.status, StoreStatus::Approved);
    assert_eq!(record.store.kana, "ミドリマート");
    let approved: StoreList = app
        .get(
            &format!("{}?status=approved", paths::ADMIN_STORES),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(approved.stores.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_bank_data_and_unconvertible_holder_names_are_refused() {
    let app = spawn_app().await;
    type Spoil = fn(&mut StoreApplication);
    let cases: Vec<(Spoil, &str, &str)> = vec![
        (
            |a| a.bank_account.bank_code = "9998".into(),
            "bank_account.bank_code",
            "9998",
        ),
        (
            |a| a.bank_account.bank_code = "12".into(),
            "bank_account.bank_code",
            "4桁",
        ),
        (
            |a| a.bank_account.branch_code = "999".into(),
            "bank_account.branch_code",
            "999",
        ),
        (
            |a| a.bank_account.account_number = "12345678".into(),
            "bank_account.account_number",
            "7桁",
        ),
        (
            |a| a.bank_account.holder_name = "緑商店".into(),
            "bank_account.holder_name",
            "「緑」「商」「店」",
        ),
        (
            |a| a.bank_account.holder_name = "ミドリ&カンパニー".into(),
            "bank_account.holder_name",
            "「&」",
        ),
        (|a| a.postal_code = "100-0001".into(), "postal_code", "市内"),
        (|a| a.phone = "123".into(), "phone", "電話番号"),
    ];
    for (spoil, field, words) in cases {
        let mut req = application("みどりマート");
        spoil(&mut req);
        let res = app.post(paths::STORE_APPLICATIONS, None, None, &req).await;
        assert_eq!(res.status(), 422, "{field}");
        let body: ErrorBody = res.json().await.unwrap();
        assert_eq!(body.error, ErrorCode::InvalidField);
        assert!(body.message.starts_with(field), "{}", body.message);
        assert!(body.message.contains(words), "{}", body.message);
    }
    let mut unknown = serde_json::to_value(application("みどりマート")).unwrap();
    unknown["bank_account"]["swift"] = json!("GUNMJPJT");
    let res = app
        .post(paths::STORE_APPLICATIONS, None, None, &unknown)
        .await;
    assert_eq!(error_code(res).await, (422, ErrorCode::UnknownField));
    let stores: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stores")
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(stores, 0, "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_reject_with_a_reason_and_a_suspended_store_cannot_take_payments() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let viewer = app.staff("viewer", Role::Viewer).await;
    let rejected = apply(&app, &application("却下される店")).await;
    let reason = |r: &str| StoreDecision { reason: r.into() };
    let path = format!("{}/reject", paths::admin_store(rejected.store_id));
    assert_eq!(
        error_code(app.post(&path, Some(&viewer), None, &reason("不備")).await).await,
        (403, ErrorCode::Forbidden)
    );
    assert_eq!(
        error_code(app.post(&path, Some(&admin), None, &reason(" ")).await).await,
        (422, ErrorCode::InvalidField)
    );
    let res = app
        .post(&path, Some(&admin), None, &reason("市外の店舗です"))
        .await;
    assert_eq!(res.status(), 200);
    let record: StoreRecord = app
        .get(&paths::admin_store(rejected.store_id), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record.store.status, StoreStatus::Rejected);
    assert_eq!(record.status_reason.as_deref(), Some("市外の店舗です"));
    let res = app
        .post(
            &paths::approve_store(rejected.store_id),
            Some(&admin),
            None,
            &(),
        )
        .await;
    assert_eq!(error_code(res).await, (409, ErrorCode::InvalidTransition));

    let store = app.approved_store(&admin, "みどり商店").await;
    let (resident_id, token) = app.resident("09020202020").await;
    app.charge(&admin, resident_id, 3000).await;
    assert_eq!(
        app.pay(&token, "before", store.id, 100, "1234")
            .await
            .status(),
        201
    );
    let suspend = format!("{}/suspend", paths::admin_store(store.id));
    let res = app
        .post(&suspend, Some(&admin), None, &reason("調査中"))
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .pay(&token, "while-suspended", store.id, 100, "1234")
        .await;
    assert_eq!(error_code(res).await, (422, ErrorCode::StoreNotAccepting));
    assert_eq!(
        error_code(app.get(&paths::store_code(store.id), None).await).await,
        (404, ErrorCode::UnknownStore)
    );
    // Approving again reinstates the store.
    let res = app
        .post(&paths::approve_store(store.id), Some(&admin), None, &())
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.pay(&token, "after", store.id, 100, "1234")
            .await
            .status(),
        201
    );

    // Staff can give a store created without one a bank account.
    let account = application("x").bank_account;
    let res = app
        .http
        .put(app.url(&format!("{}/bank-account", paths::admin_store(store.id))))
        .bearer_auth(&admin)
        .json(&account)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let record: StoreRecord = res.json().await.unwrap();
    assert_eq!(
        record.bank_account.map(|b| b.holder_name).as_deref(),
        Some("ｶ)ﾐﾄﾞﾘﾏ-ﾄ")
    );
    app.check_ledger().await;
}

/// `application/x-www-form-urlencoded`, percent-encoding everything but unreserved bytes.
fn form_body(fields: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn hidden_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("token field") + marker.len();
    let end = start + html[start..].find('"').expect("end of token");
    html[start..end].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_web_form_takes_applications_with_its_csrf_token() {
    let app = spawn_app().await;
    let page = app.get(paths::STORE_APPLY_PAGE, None).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let cookie = cookie.split(';').next().unwrap().to_string();
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"ja\">") && html.contains("加盟店のお申し込み"));
    let token = hidden_token(&html);

    let fields = |token: &str, holder: &str| {
        vec![
            ("csrf_token", token.to_string()),
            ("name", "ながめ食堂".into()),
            ("kana", "ナガメショクドウ".into()),
            ("romanised_name", "NAGAME SHOKUDO".into()),
            ("industry", "restaurant".into()),
            ("size_class", "small".into()),
            ("district", "大間々町".into()),
            ("postal_code", "3760101".into()),
            ("address", "大間々3-1-2".into()),
            ("representative", "長目 太郎".into()),
            ("contact_name", "長目 花子".into()),
            ("phone", "0277-11-2222".into()),
            ("email", "".into()),
            ("bank_code", "0128".into()),
            ("branch_code", "141".into()),
            ("account_type", "ordinary".into()),
            ("account_number", "7654321".into()),
            ("holder_name", holder.to_string()),
        ]
    };
    let submit = |cookie: Option<String>, body: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut req = app
            .http
            .post(app.url(paths::STORE_APPLY_PAGE))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&pairs));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };

    // Without the cookie, or with a forged token, nothing is stored.
    let res = submit(None, fields(&token, "ナガメショクドウ"))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("もう一度お試しください"));
    let res = submit(Some(cookie.clone()), fields("forged.1.AAAA", "ナガメ"))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Problems come back on the form, announced, with what was typed kept.
    let res = submit(Some(cookie.clone()), fields(&token, "長目食堂"))
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("「長」「目」「食」「堂」"), "{html}");
    assert!(html.contains("value=\"ながめ食堂\""));
    assert!(html.contains("aria-invalid=\"true\""));
    let stores: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stores")
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(stores, 0);

    let res = submit(Some(cookie.clone()), fields(&token, "ナガメショクドウ（カ"))
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("受け付けました") && html.contains("ﾅｶﾞﾒｼﾖｸﾄﾞｳ(ｶ"),
        "{html}"
    );
    let admin = app.staff("admin", Role::Administrator).await;
    let pending: StoreList = app
        .get(
            &format!("{}?status=pending", paths::ADMIN_STORES),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending.stores[0].store.name, "ながめ食堂");
    assert_eq!(pending.stores[0].store.postal_code, "376-0101");
}

/// Renders each page of a PDF as a phone camera would see it printed (pdftoppm, from Debian's
/// poppler-utils) and reads the QR code on it (zbarimg, from zbar-tools): one payload per page.
/// `CHIIKI_KEEP_POSTERS=DIR` keeps the rendered pages there, to look at them.
fn scan_pdf(pdf: &[u8]) -> Vec<String> {
    use std::process::Command;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("poster.pdf");
    std::fs::write(&file, pdf).expect("write pdf");
    let status = Command::new("pdftoppm")
        .args(["-r", "110", "-png"])
        .arg(&file)
        .arg(dir.path().join("page"))
        .status()
        .expect("pdftoppm (Debian poppler-utils) must be installed; scripts/test-all installs it");
    assert!(status.success(), "pdftoppm failed");
    let mut pages: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    pages.sort();
    if let Ok(keep) = std::env::var("CHIIKI_KEEP_POSTERS") {
        for page in &pages {
            let _ = std::fs::copy(
                page,
                std::path::Path::new(&keep).join(page.file_name().unwrap()),
            );
        }
    }
    pages
        .iter()
        .map(|page| {
            let out = Command::new("zbarimg")
                .args(["--quiet", "--raw", "-Sbinary"])
                .arg(page)
                .output()
                .expect(
                    "zbarimg (Debian zbar-tools) must be installed; scripts/test-all installs it",
                );
            assert!(
                out.status.success(),
                "no QR code found on {}",
                page.display()
            );
            let mut bytes = out.stdout;
            while bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            String::from_utf8(bytes).expect("UTF-8 payload")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn posters_and_code_images_decode_back_to_the_store_code() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let first = app.approved_store(&admin, "みどりマート大間々店").await;
    let second = app.approved_store(&admin, "カフェ高津戸").await;
    let res = app
        .post(
            paths::ADMIN_STORES,
            Some(&admin),
            None,
            &store_request("審査中の店"),
        )
        .await;
    let pending: StoreDetail = res.json().await.unwrap();
    let payload = |id| {
        let app = &app;
        async move {
            let code: StoreCode = app
                .get(&paths::store_code(id), None)
                .await
                .json()
                .await
                .unwrap();
            code.payload
        }
    };
    let first_code = payload(first.id).await;

    for size in ["A4", "A5"] {
        let res = app
            .get(
                &format!("/api/v1/stores/{}/poster.pdf?size={size}", first.id),
                None,
            )
            .await;
        assert_eq!(res.status(), 200, "{size}");
        assert_eq!(res.headers()["content-type"], "application/pdf");
        let pdf = res.bytes().await.unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert_eq!(scan_pdf(&pdf), vec![first_code.clone()], "{size}");
    }
    let res = app
        .get(
            &format!("/api/v1/stores/{}/poster.pdf?size=B5", first.id),
            None,
        )
        .await;
    assert_eq!(error_code(res).await, (400, ErrorCode::InvalidField));
    let res = app
        .get(&format!("/api/v1/stores/{}/poster.pdf", pending.id), None)
        .await;
    assert_eq!(error_code(res).await, (404, ErrorCode::UnknownStore));

    // The code alone, as PNG and SVG.
    let res = app
        .get(&format!("/api/v1/stores/{}/code.png", first.id), None)
        .await;
    assert_eq!(res.headers()["content-type"], "image/png");
    let png = res.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("code.png"), &png).unwrap();
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sbinary"])
        .arg(dir.path().join("code.png"))
        .output()
        .expect("zbarimg");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), first_code);
    let res = app
        .get(&format!("/api/v1/stores/{}/code.svg", first.id), None)
        .await;
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(res.text().await.unwrap().contains("<svg"));

    // The promotion kit: one page per approved store, each with its own code.
    let (_, resident) = app.resident("09030303030").await;
    assert_eq!(
        error_code(app.get(paths::ADMIN_POSTERS, Some(&resident)).await).await,
        (403, ErrorCode::Forbidden)
    );
    let res = app
        .get(&format!("{}?size=A5", paths::ADMIN_POSTERS), Some(&admin))
        .await;
    assert_eq!(res.status(), 200);
    let pdf = res.bytes().await.unwrap();
    assert_eq!(scan_pdf(&pdf), vec![first_code, payload(second.id).await]);
}

/// A resident's phone: a P-256 key (as the Secure Enclave or Keystore holds it) registered at
/// login, which signs resident codes.
struct Phone {
    key: ring::signature::EcdsaKeyPair,
    device_id: i64,
    token: String,
}

async fn phone(app: &TestApp, login: &str) -> Phone {
    use base64::Engine as _;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let public_key = base64::engine::general_purpose::STANDARD.encode(key.public_key().as_ref());
    let res = app
        .post(
            paths::SESSIONS,
            None,
            None,
            &CreateSession {
                login: login.into(),
                password: "midori-password".into(),
                device_name: "phone".into(),
                public_key: Some(public_key),
            },
        )
        .await;
    assert_eq!(res.status(), 201);
    let session: SessionCreated = res.json().await.unwrap();
    Phone {
        key,
        device_id: session.device_id,
        token: session.token,
    }
}

impl Phone {
    /// A resident code as the app shows it: issued now, valid 60 s, a fresh nonce.
    fn code(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        let mut nonce = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce).unwrap();
        self.code_with(now, nonce, self.device_id)
    }

    fn code_with(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        nonce: [u8; 16],
        device_id: i64,
    ) -> String {
        let token = chiiki_core::qr::ResidentToken {
            device_id,
            issued_at: now.timestamp(),
            validity_secs: 60,
            nonce,
        };
        let signature = self
            .key
            .sign(&ring::rand::SystemRandom::new(), &token.signing_bytes())
            .unwrap();
        token.encode(signature.as_ref()).unwrap()
    }
}

/// An approved store with a signed-in member of staff: (store, staff token).
async fn store_with_staff(
    app: &TestApp,
    admin: &str,
    name: &str,
    login: &str,
) -> (StoreDetail, String) {
    let store = app.approved_store(admin, name).await;
    let res = app
        .post(
            &paths::store_staff(store.id),
            Some(admin),
            None,
            &CreateStoreStaff {
                login: login.into(),
                password: "store-password".into(),
            },
        )
        .await;
    assert_eq!(res.status(), 201);
    (store, app.login(login, "store-password").await.token)
}

async fn charge_code(
    app: &TestApp,
    staff: &str,
    key: &str,
    payload: &str,
    amount: i64,
) -> reqwest::Response {
    app.post(
        paths::STORE_CHARGES,
        Some(staff),
        Some(key),
        &StoreChargeRequest {
            payload: payload.into(),
            amount: Yen(amount),
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_charges_a_resident_code_once_and_only_a_good_one() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let (store, cashier) = store_with_staff(&app, &admin, "みどり商店", "S0001").await;
    let (resident_id, _) = app.resident("09040404040").await;
    app.charge(&admin, resident_id, 50_000).await;
    let phone = phone(&app, "09040404040").await;
    let now = app.clock.now();

    // A good code: charged, and the store sees no personal data.
    let code = phone.code(now);
    let res = charge_code(&app, &cashier, "c1", &code, 1200).await;
    assert_eq!(res.status(), 201);
    let first: serde_json::Value = res.json().await.unwrap();
    assert_eq!(first["message"], "¥1,200 受け取りました");
    assert_eq!(first["store_id"], store.id);
    assert!(first.get("balance_after").is_none());
    // The same request again (a lost answer): the same answer, charged once.
    let again: serde_json::Value = charge_code(&app, &cashier, "c1", &code, 1200)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, first);
    // The same code in a new request: replayed.
    let res = charge_code(&app, &cashier, "c2", &code, 1200).await;
    assert_eq!(
        error_code(res).await,
        (409, ErrorCode::ResidentCodeReplayed)
    );

    // Expired: older than its validity and the allowed clock skew.
    let old = phone.code(now - chrono::Duration::seconds(60 + 61));
    let res = charge_code(&app, &cashier, "c3", &old, 100).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::ResidentCodeExpired));
    let future = phone.code(now + chrono::Duration::seconds(120));
    let res = charge_code(&app, &cashier, "c4", &future, 100).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::ResidentCodeExpired));

    // Tampered: another nonce under the signature of the first.
    let tampered = {
        let decoded = chiiki_core::qr::decode_resident_code(&phone.code(now)).unwrap();
        let mut token = decoded.token;
        token.nonce[0] ^= 1;
        token.encode(&decoded.signature).unwrap()
    };
    let res = charge_code(&app, &cashier, "c5", &tampered, 100).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::InvalidResidentCode));
    let res = charge_code(&app, &cashier, "c6", "CKR:NOT-A-CODE", 100).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::InvalidResidentCode));

    // Another programme's: a device this server never registered, or a store code.
    let foreign = phone.code_with(now, [9; 16], 987_654);
    let res = charge_code(&app, &cashier, "c7", &foreign, 100).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::InvalidResidentCode));
    let store_code: StoreCode = app
        .get(&paths::store_code(store.id), None)
        .await
        .json()
        .await
        .unwrap();
    let res = charge_code(&app, &cashier, "c8", &store_code.payload, 100).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::InvalidResidentCode));

    // Over the programme's cap for payments without a PIN.
    let cap = app.programme.store_rules.resident_code_max_payment.get();
    let res = charge_code(&app, &cashier, "c9", &phone.code(now), cap + 1).await;
    assert_eq!(error_code(res).await, (422, ErrorCode::AmountTooLarge));
    assert_eq!(
        charge_code(&app, &cashier, "c10", &phone.code(now), cap)
            .await
            .status(),
        201
    );

    // Only store staff charge; a code from a store's own device is not a resident's.
    let res = charge_code(&app, &phone.token, "c11", &phone.code(now), 100).await;
    assert_eq!(error_code(res).await, (403, ErrorCode::Forbidden));
    let staff_phone = {
        let p = phone_of_store_staff(&app).await;
        p.code(now)
    };
    let res = charge_code(&app, &cashier, "c12", &staff_phone, 100).await;
    assert_eq!(
        error_code(res).await,
        (422, ErrorCode::ResidentCodeNotUsable)
    );

    let balance: Balance = app
        .get(paths::ME_BALANCE, Some(&phone.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(balance.total, Yen(50_000 - 1200 - cap));
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM operations WHERE kind = 'payment' ORDER BY id LIMIT 1",
    )
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert!(detail.contains("resident_code"), "{detail}");
    app.check_ledger().await;
}

/// A member of store staff whose login carried a device key (as store mode on a phone does).
async fn phone_of_store_staff(app: &TestApp) -> Phone {
    use base64::Engine as _;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let res = app
        .post(
            paths::SESSIONS,
            None,
            None,
            &CreateSession {
                login: "S0001".into(),
                password: "store-password".into(),
                device_name: "store tablet".into(),
                public_key: Some(
                    base64::engine::general_purpose::STANDARD.encode(key.public_key().as_ref()),
                ),
            },
        )
        .await;
    let session: SessionCreated = res.json().await.unwrap();
    Phone {
        key,
        device_id: session.device_id,
        token: session.token,
    }
}

/// Reads server-sent events until one named `name` arrives; its `data` as JSON.
async fn next_event(
    res: &mut reqwest::Response,
    buffer: &mut String,
    name: &str,
) -> serde_json::Value {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = "message";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if event == name {
                return serde_json::from_str(&data).unwrap();
            }
            continue;
        }
        let chunk = res.chunk().await.unwrap().expect("stream ended");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// Two server processes on one PostgreSQL database (as behind a load balancer): a payment taken
/// by one reaches the store's stream held open on the other. SQLite runs one process by design.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_reaches_the_store_through_another_server() {
    let app = spawn_app().await;
    if app.db.postgres_url().is_none() {
        return;
    }
    let admin = app.staff("admin", Role::Administrator).await;
    let (store, cashier) = store_with_staff(&app, &admin, "みどり商店", "S0001").await;
    let (resident_id, token) = app.resident("09050505061").await;
    app.charge(&admin, resident_id, 10_000).await;

    // The second server: its own pools and feed, the same database and keys.
    let db = chiiki_backend::db::Db::connect(&app.url)
        .await
        .unwrap()
        .with_vault(app.db.shared_vault());
    let state =
        chiiki_backend::AppState::new(db, (*app.programme).clone(), app.clock.clone(), settings());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(chiiki_backend::serve(listener, state, async move {
        let _ = stopped.await;
    }));

    let mut stream = app
        .http
        .get(format!("{other}{}", paths::STORE_PAYMENTS_STREAM))
        .bearer_auth(&cashier)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();
    assert_eq!(
        app.pay(&token, "relay-1", store.id, 700, "1234")
            .await
            .status(),
        201
    );
    let event = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        next_event(&mut stream, &mut buffer, "payment"),
    )
    .await
    .expect("the payment taken by the first server arrives through the second within a second");
    assert_eq!(event["message"], "¥700 受け取りました");
    assert_eq!(event["store_id"], store.id);
    // Exactly once: the next thing on the stream is not the same payment again.
    let again = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        next_event(&mut stream, &mut buffer, "payment"),
    )
    .await;
    assert!(again.is_err(), "the payment is announced once");
    drop(stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_staff_see_each_payment_within_a_second() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let (store, cashier) = store_with_staff(&app, &admin, "みどり商店", "S0001").await;
    let (_, neighbour) = store_with_staff(&app, &admin, "となりの店", "S0002").await;
    let (resident_id, token) = app.resident("09050505051").await;
    app.charge(&admin, resident_id, 10_000).await;
    let open = |staff: &str| {
        app.http
            .get(app.url(paths::STORE_PAYMENTS_STREAM))
            .bearer_auth(staff)
            .send()
    };
    let mut stream = open(&cashier).await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut other = open(&neighbour).await.unwrap();
    let mut buffer = String::new();

    let one_second = std::time::Duration::from_secs(1);
    assert_eq!(
        app.pay(&token, "live-1", store.id, 1200, "1234")
            .await
            .status(),
        201
    );
    let event = tokio::time::timeout(one_second, next_event(&mut stream, &mut buffer, "payment"))
        .await
        .expect("the payment arrives within a second");
    assert_eq!(event["message"], "¥1,200 受け取りました");
    assert_eq!(event["amount"], 1200);
    let payment_id = event["payment_id"].as_i64().unwrap();

    // A resident code charged at the counter, and a refund, arrive too.
    let phone = phone(&app, "09050505051").await;
    let res = charge_code(&app, &cashier, "code-1", &phone.code(app.clock.now()), 800).await;
    assert_eq!(res.status(), 201);
    let event = tokio::time::timeout(one_second, next_event(&mut stream, &mut buffer, "payment"))
        .await
        .expect("the charge arrives within a second");
    assert_eq!(event["message"], "¥800 受け取りました");
    let res = app
        .post(
            &paths::refunds(payment_id),
            Some(&cashier),
            Some("refund-1"),
            &RefundRequest {
                amount: Yen(200),
                reason: "返品".into(),
            },
        )
        .await;
    assert_eq!(res.status(), 201);
    let event = tokio::time::timeout(one_second, next_event(&mut stream, &mut buffer, "refund"))
        .await
        .expect("the refund arrives within a second");
    assert_eq!(event["message"], "¥200 返金しました");

    // The neighbouring store hears nothing of it; residents cannot listen.
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), other.chunk()).await;
    assert!(quiet.is_err(), "another store's stream stays silent");
    let res = app.get(paths::STORE_PAYMENTS_STREAM, Some(&token)).await;
    assert_eq!(error_code(res).await, (403, ErrorCode::Forbidden));

    // Today's sales (JST), and another day's.
    let sales: StoreSales = app
        .get(paths::STORE_PAYMENTS, Some(&cashier))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sales.date, chiiki_core::time::jst_date(app.clock.now()));
    assert_eq!((sales.payment_count, sales.gross), (2, Yen(2000)));
    assert_eq!(
        (sales.refund_count, sales.refunds, sales.net),
        (1, Yen(200), Yen(1800))
    );
    assert_eq!(sales.payments[1].refunded, Yen(200));
    let yesterday: StoreSales = app
        .get(
            &format!("{}?date=2024-11-30", paths::STORE_PAYMENTS),
            Some(&cashier),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(yesterday.payment_count, 0);
    let res = app
        .get(
            &format!("{}?date=yesterday", paths::STORE_PAYMENTS),
            Some(&cashier),
        )
        .await;
    assert_eq!(error_code(res).await, (400, ErrorCode::InvalidField));
    app.check_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_staff_refund_recent_payments_and_city_staff_older_ones() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let (store, cashier) = store_with_staff(&app, &admin, "みどり商店", "S0001").await;
    let (resident_id, token) = app.resident("09060606060").await;
    app.charge(&admin, resident_id, 10_000).await;
    let pay = |key: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let receipt: PaymentReceipt = app
                .pay(&token, key, store.id, 1000, "1234")
                .await
                .json()
                .await
                .unwrap();
            receipt.payment_id
        }
    };
    let old = pay("old").await;
    let days = app.programme.store_rules.refund_days;
    app.clock
        .advance(chrono::Duration::days(days) - chrono::Duration::minutes(1));
    let recent = pay("recent").await;
    let refund = RefundRequest {
        amount: Yen(1000),
        reason: "返品".into(),
    };
    // One minute before the limit the store may still refund the old payment.
    let res = app
        .post(
            &paths::refunds(old),
            Some(&cashier),
            Some("r-edge"),
            &RefundRequest {
                amount: Yen(100),
                ..refund.clone()
            },
        )
        .await;
    assert_eq!(res.status(), 201);
    app.clock.advance(chrono::Duration::minutes(1));
    let res = app
        .post(&paths::refunds(old), Some(&cashier), Some("r-old"), &refund)
        .await;
    assert_eq!(error_code(res).await, (403, ErrorCode::RefundWindowClosed));
    // The refusal is remembered under its key.
    let res = app
        .post(&paths::refunds(old), Some(&cashier), Some("r-old"), &refund)
        .await;
    assert_eq!(error_code(res).await, (403, ErrorCode::RefundWindowClosed));
    let res = app
        .post(
            &paths::refunds(recent),
            Some(&cashier),
            Some("r-recent"),
            &refund,
        )
        .await;
    assert_eq!(res.status(), 201);
    // City staff sessions last hours, not weeks: sign in again.
    let admin = app.login("admin", "staff-password").await.token;
    let res = app
        .post(
            &paths::refunds(old),
            Some(&admin),
            Some("r-city"),
            &RefundRequest {
                amount: Yen(900),
                ..refund.clone()
            },
        )
        .await;
    assert_eq!(res.status(), 201, "city staff refund older payments");
    app.check_ledger().await;
}

/// An instant in JST.
fn jst(y: i32, m: u32, d: u32, h: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::FixedOffset::east_opt(9 * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

async fn post_key<T: serde::Serialize>(
    app: &TestApp,
    path: &str,
    token: &str,
    key: &str,
    body: &T,
) -> reqwest::Response {
    app.post(path, Some(token), Some(key), body).await
}

async fn close(app: &TestApp, admin: &str, period: &str) -> reqwest::Response {
    app.post(
        &format!("{}/close", paths::settlement(period)),
        Some(admin),
        None,
        &(),
    )
    .await
}

/// A store that applied with a bank account and was approved: (store id, holder name).
async fn applied_store(app: &TestApp, admin: &str, name: &str, holder: &str) -> i64 {
    let mut req = application(name);
    req.bank_account.holder_name = holder.into();
    let received = apply(app, &req).await;
    let res = app
        .post(
            &paths::approve_store(received.store_id),
            Some(admin),
            None,
            &(),
        )
        .await;
    assert_eq!(res.status(), 200);
    received.store_id
}

fn line(s: &Settlement, store_id: i64) -> &SettlementLine {
    s.lines
        .iter()
        .find(|l| l.store_id == store_id)
        .expect("line")
}

/// What the ledger says a store's account received (payments) less what left it (refunds,
/// payouts), over transfers made in `[from, to)`.
async fn ledger_net(
    app: &TestApp,
    store_id: i64,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> i64 {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(CASE WHEN t.credit_account = a.id THEN t.amount ELSE -t.amount END), 0) AS BIGINT)
         FROM transfers t JOIN accounts a ON a.kind = 'store' AND a.owner_id = $1
              AND (a.id = t.credit_account OR a.id = t.debit_account)
         JOIN operations o ON o.id = t.operation_id
         WHERE o.kind IN ('payment', 'refund') AND t.created_at >= $2 AND t.created_at < $3",
    )
    .bind(store_id)
    .bind(from.timestamp_millis())
    .bind(to.timestamp_millis())
    .fetch_one(app.db.reader())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settlement_pays_each_store_what_the_ledger_holds() {
    use chiiki_backend::zengin::transfer::read_transfer_file;
    let app = spawn_app().await;
    app.clock.set(jst(2024, 11, 10, 12));
    let admin = app.staff("admin", Role::Administrator).await;
    let a = applied_store(&app, &admin, "みどりマート", "株式会社みどりマート").await;
    let b = applied_store(&app, &admin, "カフェ高津戸", "タカツド　ハナコ").await;
    let c = app.approved_store(&admin, "口座のない店").await.id;
    let res = app
        .post(
            &paths::store_staff(a),
            Some(&admin),
            None,
            &CreateStoreStaff {
                login: "S0001".into(),
                password: "store-password".into(),
            },
        )
        .await;
    assert_eq!(res.status(), 201);
    let cashier = app.login("S0001", "store-password").await.token;
    let (resident_id, token) = app.resident("09070707070").await;
    {
        let mut tx = app.db.begin().await.unwrap();
        let now = app.clock.now();
        chiiki_backend::ledger::issue_sets(
            &mut tx,
            &app.programme,
            resident_id,
            1,
            "staff:1",
            json!({}),
            now,
        )
        .await
        .unwrap();
        chiiki_backend::ledger::award_points(
            &mut tx,
            resident_id,
            Yen(200),
            now + chrono::Duration::days(365),
            "staff:1",
            json!({}),
            now,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    app.charge(&admin, resident_id, 8000).await;
    let pay = |key: &'static str, store: i64, amount: i64, points: bool| {
        let (app, token) = (&app, token.clone());
        async move {
            let res = app
                .post(
                    paths::PAYMENTS,
                    Some(&token),
                    Some(key),
                    &PaymentRequest {
                        store_id: Some(store),
                        store_code: None,
                        amount: Yen(amount),
                        pin: "1234".into(),
                        use_points: Some(points),
                    },
                )
                .await;
            assert_eq!(res.status(), 201, "{key}");
            res.json::<PaymentReceipt>().await.unwrap().payment_id
        }
    };
    pay("n1", a, 1000, true).await; // points 200, premium 800
    let big = pay("n2", a, 6000, false).await; // premium 5700, charged 300
    let at_b = pay("n3", b, 1500, false).await; // charged 1500
    pay("n4", c, 700, false).await; // charged 700
    let refund = |amount| RefundRequest {
        amount: Yen(amount),
        reason: "返品".into(),
    };
    assert_eq!(
        post_key(&app, &paths::refunds(big), &cashier, "nr", &refund(500))
            .await
            .status(),
        201
    );

    // December, before closing November: a refund after the cutoff, and a new payment.
    app.clock.set(jst(2024, 12, 1, 0));
    let admin = app.login("admin", "staff-password").await.token;
    let res = close(&app, &admin, "2024-11").await;
    assert_eq!(
        error_code(res).await,
        (409, ErrorCode::PeriodNotOver),
        "ten minutes of grace"
    );
    app.clock.set(jst(2024, 12, 2, 12));
    let admin = app.login("admin", "staff-password").await.token;
    assert_eq!(
        post_key(&app, &paths::refunds(at_b), &admin, "dr", &refund(1500))
            .await
            .status(),
        201
    );
    pay("d1", a, 100, false).await;

    app.clock.set(jst(2024, 12, 5, 9));
    let admin = app.login("admin", "staff-password").await.token;
    let viewer = app.staff("viewer", Role::Viewer).await;
    assert_eq!(
        error_code(close(&app, &admin, "2024-12").await).await,
        (409, ErrorCode::PeriodNotOver)
    );
    assert_eq!(
        error_code(close(&app, &admin, "2024-10").await).await,
        (422, ErrorCode::InvalidPeriod)
    );
    assert_eq!(
        error_code(close(&app, &admin, "2024-11-1").await).await,
        (422, ErrorCode::InvalidPeriod)
    );
    assert_eq!(
        error_code(close(&app, &viewer, "2024-11").await).await,
        (403, ErrorCode::Forbidden)
    );
    let res = app
        .get(
            &format!("{}/zengin", paths::settlement("2024-11")),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(res).await, (404, ErrorCode::PeriodNotClosed));

    let res = close(&app, &admin, "2024-11").await;
    assert_eq!(res.status(), 200);
    let nov: Settlement = res.json().await.unwrap();
    assert_eq!(nov.summary.payout_date.to_string(), "2024-12-16");
    let la = line(&nov, a);
    assert_eq!(
        (
            la.payment_count,
            la.gross,
            la.refund_count,
            la.refunds,
            la.net
        ),
        (2, Yen(7000), 1, Yen(500), Yen(6500))
    );
    assert_eq!(
        (la.premium, la.charged, la.points),
        (Yen(6300), Yen(0), Yen(200))
    );
    assert_eq!(
        (la.amount_due, la.fee, la.status),
        (Yen(6500), Yen(65), PayoutStatus::Scheduled)
    );
    let lb = line(&nov, b);
    assert_eq!(
        (lb.net, lb.charged, lb.status),
        (Yen(1500), Yen(1500), PayoutStatus::Scheduled)
    );
    let lc = line(&nov, c);
    assert_eq!(
        (lc.amount_due, lc.status),
        (Yen(700), PayoutStatus::Carried)
    );
    assert!(lc.hold_reason.as_deref().unwrap().contains("口座"));
    assert_eq!(
        (nov.summary.transfer_count, nov.summary.transfer_total),
        (2, Yen(8000))
    );
    assert_eq!(nov.summary.fee_total, Yen(65 + 15 + 7));
    // The cycle's totals are the ledger's.
    let (from, to) = (jst(2024, 11, 1, 0), jst(2024, 12, 1, 0));
    for l in &nov.lines {
        assert_eq!(
            l.net.get(),
            ledger_net(&app, l.store_id, from, to).await,
            "store {}",
            l.store_id
        );
        assert_eq!(
            l.premium.get() + l.charged.get() + l.points.get(),
            l.net.get()
        );
    }

    // The transfer file, read back strictly.
    let res = app
        .get(
            &format!("{}/zengin", paths::settlement("2024-11")),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("zengin-midori-2024-2024-11.txt")
    );
    let file = res.bytes().await.unwrap().to_vec();
    let read = read_transfer_file(&file).unwrap();
    assert_eq!(
        (read.count, read.total, read.transfer_date_mmdd.as_str()),
        (2, 8000, "1216")
    );
    assert_eq!(read.payees[0].4, "ｶ)ﾐﾄﾞﾘﾏ-ﾄ");
    assert_eq!(read.payees[1].4, "ﾀｶﾂﾄﾞ ﾊﾅｺ");
    assert_eq!(
        (
            read.payees[0].0.as_str(),
            read.payees[0].1.as_str(),
            read.payees[0].3.as_str()
        ),
        ("0128", "141", "0123456")
    );
    assert_eq!(
        error_code(
            app.get(
                &format!("{}/zengin", paths::settlement("2024-11")),
                Some(&viewer)
            )
            .await
        )
        .await,
        (403, ErrorCode::Forbidden)
    );
    // Closing again gives the same cycle and the same file, byte for byte.
    let again: Settlement = close(&app, &admin, "2024-11").await.json().await.unwrap();
    assert_eq!(again, nov);
    let file_again = app
        .get(
            &format!("{}/zengin", paths::settlement("2024-11")),
            Some(&admin),
        )
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(file_again.to_vec(), file);

    // Statements: every store's in one CSV for staff, each store's own in store mode.
    let csv = app
        .get(
            &format!("{}/statements.csv", paths::settlement("2024-11")),
            Some(&viewer),
        )
        .await;
    assert_eq!(csv.status(), 200);
    let csv = csv.bytes().await.unwrap();
    assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]));
    assert_eq!(
        String::from_utf8_lossy(&csv).matches("\r\n").count(),
        4,
        "header and three stores"
    );
    let mine: StoreStatementList = app
        .get(paths::STORE_STATEMENTS, Some(&cashier))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.statements.len(), 1);
    assert_eq!(mine.statements[0].line.store_id, a);
    let pdf = app
        .get(
            "/api/v1/store/statements/2024-11/statement.pdf",
            Some(&cashier),
        )
        .await;
    assert_eq!(pdf.status(), 200);
    let text = pdf_text(&pdf.bytes().await.unwrap());
    assert!(
        text.contains("精算明細書") && text.contains("¥6,500"),
        "{text}"
    );
    let own_csv = app
        .get(
            "/api/v1/store/statements/2024-11/statement.csv",
            Some(&cashier),
        )
        .await;
    assert!(String::from_utf8_lossy(&own_csv.bytes().await.unwrap()).contains("みどりマート"));
    let res = app
        .get(
            &format!("{}/stores/{b}/statement.pdf", paths::settlement("2024-11")),
            Some(&viewer),
        )
        .await;
    assert_eq!(res.status(), 200);

    // December: the refund after November's cutoff reduces it; C still has no account.
    assert_eq!(
        error_code(close(&app, &admin, "2025-01").await).await,
        (409, ErrorCode::PeriodNotOver)
    );
    app.clock.set(jst(2025, 1, 10, 12));
    let admin = app.login("admin", "staff-password").await.token;
    let token = app.login("09070707070", "midori-password").await.token;
    let res = app
        .post(
            paths::PAYMENTS,
            Some(&token),
            Some("j1"),
            &PaymentRequest {
                store_id: Some(b),
                store_code: None,
                amount: Yen(2000),
                pin: "1234".into(),
                use_points: None,
            },
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .http
        .put(app.url(&format!("{}/bank-account", paths::admin_store(c))))
        .bearer_auth(&admin)
        .json(&application("c").bank_account)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.clock.set(jst(2025, 2, 3, 9));
    let admin = app.login("admin", "staff-password").await.token;
    assert_eq!(
        error_code(close(&app, &admin, "2025-01").await).await,
        (409, ErrorCode::PeriodOutOfOrder)
    );
    let dec: Settlement = close(&app, &admin, "2024-12").await.json().await.unwrap();
    assert_eq!(dec.summary.payout_date.to_string(), "2025-01-14");
    let db_ = line(&dec, b);
    assert_eq!(
        (db_.refunds, db_.net, db_.amount_due, db_.status),
        (Yen(1500), Yen(-1500), Yen(-1500), PayoutStatus::Carried)
    );
    assert_eq!(
        (line(&dec, a).amount_due, line(&dec, a).status),
        (Yen(100), PayoutStatus::Scheduled)
    );
    // C's account was set in January, before December closed: December pays what C was owed.
    assert_eq!(
        (
            line(&dec, c).carried_in,
            line(&dec, c).amount_due,
            line(&dec, c).status
        ),
        (Yen(700), Yen(700), PayoutStatus::Scheduled)
    );
    let jan: Settlement = close(&app, &admin, "2025-01").await.json().await.unwrap();
    let jb = line(&jan, b);
    assert_eq!(
        (jb.net, jb.carried_in, jb.amount_due, jb.status),
        (Yen(2000), Yen(-1500), Yen(500), PayoutStatus::Scheduled)
    );
    assert!(
        jan.lines.iter().all(|l| l.store_id == b),
        "only B had anything in January"
    );

    // Once every transfer is paid, every store's account is empty: settlement paid exactly
    // what the ledger held.
    for (period, key) in [
        ("2024-11", "p-nov"),
        ("2024-12", "p-dec"),
        ("2025-01", "p-jan"),
    ] {
        let res = post_key(
            &app,
            &format!("{}/paid", paths::settlement(period)),
            &admin,
            key,
            &(),
        )
        .await;
        assert_eq!(res.status(), 201, "{period}");
    }
    for store in [a, b, c] {
        assert_eq!(
            chiiki_backend::ledger::store_balance(app.db.reader(), store)
                .await
                .unwrap(),
            Yen(0),
            "store {store}"
        );
    }
    let list: SettlementList = app
        .get(paths::ADMIN_SETTLEMENTS, Some(&viewer_token(&app).await))
        .await
        .json()
        .await
        .unwrap();
    let periods: Vec<&str> = list.cycles.iter().map(|c| c.period.as_str()).collect();
    assert_eq!(periods, ["2025-01", "2024-12", "2024-11"]);
    let paid_total: i64 = list.cycles.iter().map(|c| c.transfer_total.get()).sum();
    assert_eq!(paid_total, 8000 + 800 + 500);
    app.check_ledger().await;
}

async fn viewer_token(app: &TestApp) -> String {
    app.login("viewer", "staff-password").await.token
}

/// The text of a PDF, as poppler's pdftotext reads it (so the fonts carry Unicode maps).
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (Debian poppler-utils) must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payouts_are_marked_paid_and_bank_returns_carry_into_the_next_cycle() {
    let app = spawn_app().await;
    app.clock.set(jst(2024, 11, 20, 12));
    let admin = app.staff("admin", Role::Administrator).await;
    let a = applied_store(&app, &admin, "みどりマート", "ミドリマート").await;
    let b = applied_store(&app, &admin, "カフェ高津戸", "タカツド").await;
    let (resident_id, token) = app.resident("09080808080").await;
    app.charge(&admin, resident_id, 10_000).await;
    assert_eq!(app.pay(&token, "n1", a, 3000, "1234").await.status(), 201);
    assert_eq!(app.pay(&token, "n2", b, 1500, "1234").await.status(), 201);
    app.clock.set(jst(2024, 12, 3, 9));
    let admin = app.login("admin", "staff-password").await.token;
    assert_eq!(close(&app, &admin, "2024-11").await.status(), 200);
    let store_path =
        |store: i64, what: &str| format!("{}/stores/{store}/{what}", paths::settlement("2024-11"));

    // Paid: the ledger moves the store's balance to the settled account.
    let res = post_key(&app, &store_path(a, "paid"), &admin, "pa", &()).await;
    assert_eq!(res.status(), 201);
    let paid: PayoutReceipt = res.json().await.unwrap();
    assert_eq!((paid.amount, paid.status), (Yen(3000), PayoutStatus::Paid));
    let again: PayoutReceipt = post_key(&app, &store_path(a, "paid"), &admin, "pa", &())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, paid, "a repeat with the same key changes nothing");
    let res = post_key(&app, &store_path(a, "paid"), &admin, "pa-2", &()).await;
    assert_eq!(error_code(res).await, (409, ErrorCode::PayoutConflict));
    let res = app
        .post(&store_path(a, "paid"), Some(&admin), None, &())
        .await;
    assert_eq!(
        error_code(res).await,
        (400, ErrorCode::IdempotencyKeyMissing)
    );
    assert_eq!(
        chiiki_backend::ledger::store_balance(app.db.reader(), a)
            .await
            .unwrap(),
        Yen(0)
    );
    let returned = PayoutReturned {
        reason: "口座解約済み".into(),
    };
    // Only a paid payout can come back.
    let res = post_key(&app, &store_path(b, "returned"), &admin, "rb-0", &returned).await;
    assert_eq!(error_code(res).await, (409, ErrorCode::PayoutConflict));
    assert_eq!(
        post_key(&app, &store_path(b, "paid"), &admin, "pb", &())
            .await
            .status(),
        201
    );
    assert_eq!(
        chiiki_backend::ledger::store_balance(app.db.reader(), b)
            .await
            .unwrap(),
        Yen(0)
    );

    // Returned by the bank: the money goes back to the store's account.
    let res = post_key(&app, &store_path(b, "returned"), &admin, "rb", &returned).await;
    assert_eq!(res.status(), 201);
    let back: PayoutReceipt = res.json().await.unwrap();
    assert_eq!(
        (back.amount, back.status),
        (Yen(1500), PayoutStatus::Returned)
    );
    assert_eq!(
        chiiki_backend::ledger::store_balance(app.db.reader(), b)
            .await
            .unwrap(),
        Yen(1500)
    );
    let res = post_key(&app, &store_path(b, "returned"), &admin, "rb-2", &returned).await;
    assert_eq!(
        error_code(res).await,
        (409, ErrorCode::PayoutConflict),
        "returned once only"
    );
    let nov: Settlement = app
        .get(&paths::settlement("2024-11"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let lb = line(&nov, b);
    assert_eq!(
        (lb.status, lb.return_reason.as_deref()),
        (PayoutStatus::Returned, Some("口座解約済み"))
    );
    assert!(lb.paid_at.is_some() && lb.returned_at.is_some());
    app.check_ledger().await;

    // December carries the returned payout into its transfer file.
    app.clock.set(jst(2025, 1, 6, 9));
    let admin = app.login("admin", "staff-password").await.token;
    let dec: Settlement = close(&app, &admin, "2024-12").await.json().await.unwrap();
    let db_ = line(&dec, b);
    assert_eq!(
        (db_.net, db_.carried_in, db_.amount_due, db_.status),
        (Yen(0), Yen(1500), Yen(1500), PayoutStatus::Scheduled)
    );
    assert!(dec.lines.iter().all(|l| l.store_id != a));
    let file = app
        .get(
            &format!("{}/zengin", paths::settlement("2024-12")),
            Some(&admin),
        )
        .await
        .bytes()
        .await
        .unwrap();
    let read = chiiki_backend::zengin::transfer::read_transfer_file(&file).unwrap();
    assert_eq!((read.count, read.total), (1, 1500));
    assert_eq!(
        post_key(
            &app,
            &format!("{}/paid", paths::settlement("2024-12")),
            &admin,
            "all",
            &()
        )
        .await
        .status(),
        201
    );
    let res = post_key(
        &app,
        &format!("{}/paid", paths::settlement("2024-12")),
        &admin,
        "all-2",
        &(),
    )
    .await;
    assert_eq!(error_code(res).await, (409, ErrorCode::PayoutConflict));
    assert_eq!(
        chiiki_backend::ledger::store_balance(app.db.reader(), b)
            .await
            .unwrap(),
        Yen(0)
    );
    let settled: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM transfers t
         JOIN accounts a ON a.id = t.credit_account WHERE a.kind = 'settled'",
    )
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    let unsettled: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM transfers t
         JOIN accounts a ON a.id = t.debit_account WHERE a.kind = 'settled'",
    )
    .fetch_one(app.db.reader())
    .await
    .unwrap();
    assert_eq!(settled - unsettled, 4500, "everything paid, once");
    app.check_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chiiki_settle_close_writes_the_same_files_every_time() {
    use chiiki_backend::programme::Programme;
    use chiiki_backend::{ledger, residents, stores};
    let t = test_db().await;
    // The command line opens the bank accounts with the same key file the data was sealed with.
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = keys_dir.path().join("keys.toml");
    let key_file = chiiki_backend::vault::Vault::generate_toml("k1").unwrap();
    chiiki_backend::vault::write_private(&keys, &key_file).unwrap();
    let vault = chiiki_backend::vault::Vault::from_file(&keys).unwrap();
    let sealed_db = t.db.clone().with_vault(std::sync::Arc::new(vault));
    let db = &sealed_db;
    let programme = Programme::midori_2024().unwrap();
    let november = jst(2024, 11, 10, 12);
    let new = stores::NewApplication::parse(&application("みどりマート"), &programme).unwrap();
    let store = stores::apply(db, &new, november).await.unwrap().store.id;
    stores::transition(db, store, StoreStatus::Approved, november)
        .await
        .unwrap();
    let resident = residents::register(
        db,
        residents::NewResident::parse(
            &registration("09090909090"),
            &programme,
            november.date_naive(),
        )
        .unwrap(),
        settings().hash_cost,
        november,
    )
    .await
    .unwrap();
    let mut tx = db.begin().await.unwrap();
    let charge = ledger::ChargeInput {
        resident_id: resident,
        amount: Yen(5000),
        method: ChargeMethod::Cash,
        receipt_number: "R",
        actor: "staff:1",
    };
    ledger::charge(&mut tx, charge, november).await.unwrap();
    let input = ledger::PaymentInput {
        resident_id: resident,
        store_id: store,
        amount: Yen(4321),
        use_points: false,
        programme: &programme,
        channel: ledger::PaymentChannel::ResidentApp,
    };
    ledger::pay(&mut tx, input, november).await.unwrap();
    tx.commit().await.unwrap();
    db.close().await;

    let run = |out: &std::path::Path| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_chiiki"))
            .args([
                "settle",
                "close",
                "--period",
                "2024-11",
                "--database-url",
                &t.database.url,
                "--out",
            ])
            .arg(out)
            .arg("--keys-file")
            .arg(&keys)
            .env_remove("CHIIKI_PROGRAMME")
            .output()
            .expect("run chiiki");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let said = run(first.path());
    assert!(
        said.contains("2024-11 を締めました: 振込 1件 ¥4,321"),
        "{said}"
    );
    run(second.path());
    let zengin = "zengin-midori-2024-2024-11.txt";
    let files = [
        zengin.to_string(),
        "settlement-midori-2024-2024-11.csv".to_string(),
        format!("statements/statement-2024-11-{store}.csv"),
        format!("statements/statement-2024-11-{store}.pdf"),
    ];
    for name in &files {
        let a = std::fs::read(first.path().join(name)).expect(name);
        let b = std::fs::read(second.path().join(name)).expect(name);
        assert!(!a.is_empty(), "{name}");
        assert_eq!(a, b, "{name} is the same, byte for byte");
    }
    let file = std::fs::read(first.path().join(zengin)).unwrap();
    let read = chiiki_backend::zengin::transfer::read_transfer_file(&file).unwrap();
    assert_eq!((read.count, read.total), (1, 4321));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_closings_and_markings_settle_once() {
    let app = std::sync::Arc::new(spawn_app().await);
    app.clock.set(jst(2024, 11, 20, 12));
    let admin = app.staff("admin", Role::Administrator).await;
    let store = applied_store(&app, &admin, "みどりマート", "ミドリマート").await;
    let (resident_id, token) = app.resident("09011223344").await;
    app.charge(&admin, resident_id, 5000).await;
    assert_eq!(
        app.pay(&token, "p", store, 2500, "1234").await.status(),
        201
    );
    app.clock.set(jst(2024, 12, 3, 9));
    let admin = app.login("admin", "staff-password").await.token;
    let mut closings = Vec::new();
    for _ in 0..4 {
        let (app, admin) = (app.clone(), admin.clone());
        closings.push(tokio::spawn(async move {
            let res = close(&app, &admin, "2024-11").await;
            assert_eq!(res.status(), 200);
            res.json::<Settlement>().await.unwrap()
        }));
    }
    let mut results = Vec::new();
    for c in closings {
        results.push(c.await.unwrap());
    }
    assert!(
        results.windows(2).all(|w| w[0] == w[1]),
        "every closing answers the same cycle"
    );
    let cycles: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM settlement_cycles")
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(cycles, 1);
    let path = format!("{}/stores/{store}/paid", paths::settlement("2024-11"));
    let mut markings = Vec::new();
    for i in 0..4 {
        let (app, admin, path) = (app.clone(), admin.clone(), path.clone());
        markings.push(tokio::spawn(async move {
            post_key(&app, &path, &admin, &format!("k{i}"), &())
                .await
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for m in markings {
        statuses.push(m.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409], "paid once");
    assert_eq!(
        chiiki_backend::ledger::store_balance(app.db.reader(), store)
            .await
            .unwrap(),
        Yen(0)
    );
    let doc: serde_json::Value = app.get("/openapi.json", None).await.json().await.unwrap();
    for path in [
        "/api/v1/store-applications",
        "/api/v1/stores/{id}/poster.pdf",
        "/api/v1/store/charges",
        "/api/v1/store/payments/stream",
        "/api/v1/admin/settlements/{period}/close",
        "/api/v1/admin/settlements/{period}/stores/{store_id}/returned",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    app.check_ledger().await;
}
