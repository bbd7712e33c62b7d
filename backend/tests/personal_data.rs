//! Personal data at rest: what residents tell us is sealed before it reaches the database, so
//! neither the raw SQLite file nor a PostgreSQL dump contains it; searches work through blind
//! indexes; keys rotate without losing anything.

mod common;

use chiiki_backend::db::Db;
use chiiki_backend::residents;
use chiiki_backend::vault::Vault;
use chiiki_core::protocol::*;
use common::*;
use std::sync::Arc;

fn secret_resident() -> RegisterResident {
    RegisterResident {
        name: "極秘 花子".into(),
        kana: "ゴクヒ ハナコ".into(),
        birth_date: chrono::NaiveDate::from_ymd_opt(1947, 3, 19).unwrap(),
        postal_code: "376-0302".into(),
        address: "座間12-345".into(),
        district: "東町".into(),
        phone: "070-5555-1234".into(),
        email: Some("gokuhi@example.jp".into()),
        password: "a-secret-password".into(),
        pin: "2468".into(),
    }
}

const NEEDLES: [&str; 8] = [
    "極秘",
    "ゴクヒ",
    "1947-03-19",
    "376-0302",
    "座間12-345",
    "07055551234",
    "070-5555",
    "gokuhi@",
];

async fn raw_contents(app: &TestApp) -> Vec<u8> {
    if app.url.starts_with("sqlite:") {
        let path = chiiki_backend::db::sqlite_path(&app.url).to_string();
        let mut bytes = Vec::new();
        for suffix in ["", "-wal"] {
            if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
                bytes.extend(b);
            }
        }
        bytes
    } else {
        let out = std::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(&app.url)
            .output()
            .expect("pg_dump");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn personal_data_never_reaches_the_database_in_clear() {
    let app = spawn_app().await;
    let res = app
        .post(paths::RESIDENTS, None, None, &secret_resident())
        .await;
    assert_eq!(res.status(), 201);
    let registered: ResidentRegistered = res.json().await.unwrap();
    // People type their phone number any way they like.
    let session = app.login("070-5555-1234", "a-secret-password").await;
    let me: Me = app
        .get(paths::ME, Some(&session.token))
        .await
        .json()
        .await
        .unwrap();
    let profile = me.resident.unwrap();
    assert_eq!(profile.name, "極秘 花子");
    assert_eq!(profile.address, "座間12-345");
    assert_eq!(session.display_name, "極秘 花子");
    assert_eq!(registered.login, "07055551234");

    // Make sure SQLite has written pages (the WAL is read too).
    sqlx::query("SELECT 1")
        .execute(app.db.writer())
        .await
        .unwrap();
    let raw = raw_contents(&app).await;
    assert!(raw.len() > 1000, "read the real database");
    for needle in NEEDLES {
        let found = raw.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(
            !found,
            "{needle:?} is stored in clear ({})",
            engine_name(&app.db)
        );
    }
    // The search the help desk needs works through the blind indexes.
    assert_eq!(
        residents::find_by_kana(&app.db, "ごくひ はなこ")
            .await
            .unwrap(),
        vec![registered.resident_id]
    );
    assert_eq!(
        residents::find_by_phone(&app.db, "07055551234")
            .await
            .unwrap(),
        Some(registered.resident_id)
    );
    assert_eq!(
        residents::find_by_phone(&app.db, "07055551235")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotating_the_data_key_keeps_every_resident_readable() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    chiiki_backend::vault::write_private(&keys, &Vault::generate_toml("k1").unwrap()).unwrap();
    let t = test_db().await;
    let db: Db =
        t.db.clone()
            .with_vault(Arc::new(Vault::from_file(&keys).unwrap()));
    db.check_vault().await.unwrap();
    let p = chiiki_backend::programme::Programme::midori_2024().unwrap();
    let new =
        residents::NewResident::parse(&secret_resident(), &p, in_usage().date_naive()).unwrap();
    let id = residents::register(&db, new, settings().hash_cost, in_usage())
        .await
        .unwrap();

    let new_key = Vault::rotate_file(&keys, chrono::Utc::now()).unwrap();
    let rotated: Db =
        t.db.clone()
            .with_vault(Arc::new(Vault::from_file(&keys).unwrap()));
    let resealed = residents::reseal_all(&rotated).await.unwrap();
    assert_eq!(resealed, 7, "every sealed column of the one resident");
    assert_eq!(
        residents::reseal_all(&rotated).await.unwrap(),
        0,
        "nothing left under the old key"
    );
    let sealed_name: String = sqlx::query_scalar("SELECT name FROM residents WHERE id = $1")
        .bind(id)
        .fetch_one(db.reader())
        .await
        .unwrap();
    assert_eq!(Vault::key_of(&sealed_name), Some(new_key.as_str()));
    assert_eq!(
        residents::profile(&rotated, id).await.unwrap().name,
        "極秘 花子"
    );
    assert_eq!(
        residents::find_by_phone(&rotated, "07055551234")
            .await
            .unwrap(),
        Some(id)
    );
    rotated.check_vault().await.unwrap();

    // A server started with somebody else's keys refuses to start.
    let stranger =
        t.db.clone()
            .with_vault(Arc::new(Vault::ephemeral().unwrap()));
    assert!(matches!(
        stranger.check_vault().await,
        Err(chiiki_backend::db::DbError::WrongKeys)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_contacts_and_bank_accounts_are_sealed_too() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Administrator).await;
    let application = StoreApplication {
        name: "秘密商店".into(),
        kana: "ひみつしょうてん".into(),
        romanised_name: "HIMITSU SHOTEN".into(),
        industry: Industry::Supermarket,
        size_class: SizeClass::Small,
        district: "大間々町".into(),
        postal_code: "376-0101".into(),
        address: "大間々1-1-1".into(),
        representative: "代表 隠子".into(),
        contact_name: "連絡 秘男".into(),
        phone: "0277-98-7654".into(),
        email: Some("himitsu-shop@example.jp".into()),
        bank_account: BankAccountInput {
            bank_code: "0128".into(),
            branch_code: "141".into(),
            account_type: AccountType::Ordinary,
            account_number: "9876543".into(),
            holder_name: "ヒミツ タロウ".into(),
        },
    };
    let res = app
        .post(paths::STORE_APPLICATIONS, None, None, &application)
        .await;
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let received: StoreApplicationReceived = res.json().await.unwrap();
    // Staff still read it all back.
    let record: serde_json::Value = app
        .get(
            &format!("/api/v1/admin/stores/{}", received.store_id),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let text = record.to_string();
    assert!(
        text.contains("代表 隠子") && text.contains("9876543"),
        "{text}"
    );

    sqlx::query("SELECT 1")
        .execute(app.db.writer())
        .await
        .unwrap();
    let raw = raw_contents(&app).await;
    for needle in [
        "代表 隠子",
        "連絡 秘男",
        "0277-98-7654",
        "himitsu-shop@",
        "9876543",
        "ﾋﾐﾂ ﾀﾛｳ",
    ] {
        let found = raw.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(
            !found,
            "{needle:?} is stored in clear ({})",
            engine_name(&app.db)
        );
    }
}
