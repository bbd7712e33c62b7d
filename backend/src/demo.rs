//! The demo data set: Midori's programme moved so that today is inside its usage window, about
//! twenty approved stores across industries and districts, and residents with balances and a
//! little history. Everything is created through the same domain functions the API uses.

use crate::auth;
use crate::crypto::HashCost;
use crate::db::Db;
use crate::ledger::{self, ChargeInput, PaymentChannel, PaymentInput};
use crate::programme::Programme;
use crate::residents::{self, NewResident};
use crate::sale::applications::{self, SetCount};
use crate::sale::lottery::{self, Seed};
use crate::sale::purchase::{self, Payment, PaymentReference};
use crate::stores::{self, NewStore};
use chiiki_core::Yen;
use chiiki_core::protocol::{
    ChargeMethod, CreateStore, Industry, RegisterResident, Role, SalePaymentMethod, StoreStatus,
};
use chiiki_core::time::jst_date;
use chrono::{DateTime, Duration, NaiveDate, Utc};

pub const ADMIN_LOGIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "chiiki-demo-admin";
pub const RESIDENT_LOGIN: &str = "09000000001";
pub const RESIDENT_PASSWORD: &str = "chiiki-demo-resident";
pub const RESIDENT_PIN: &str = "1234";
pub const STORE_LOGIN: &str = "S0001";
pub const STORE_PASSWORD: &str = "chiiki-demo-store";
/// The demo lottery's seed, published so that anyone can verify the demo draw.
pub const DEMO_SEED: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo data could not be created: {0}")]
    Seed(String),
}

fn seed<E: std::fmt::Display>(e: E) -> DemoError {
    DemoError::Seed(e.to_string())
}

/// Midori's programme moved by whole days so that `today` is 30 days into the usage window
/// (and inside the sale window).
pub fn shifted_programme(base: &Programme, today: NaiveDate) -> Programme {
    let target = today - Duration::days(30);
    let days = (target - base.usage.first_day).num_days();
    base.shifted_by_days(days)
}

/// (name, kana, romanised, industry, district, postal code, address)
type StoreSeed = (
    &'static str,
    &'static str,
    &'static str,
    Industry,
    &'static str,
    &'static str,
    &'static str,
);

const STORES: [StoreSeed; 20] = [
    (
        "みどりマート大間々店",
        "ミドリマートオオママテン",
        "MIDORI MART OMAMA",
        Industry::Supermarket,
        "大間々町",
        "376-0101",
        "大間々1-1-1",
    ),
    (
        "カフェ高津戸",
        "カフェタカツド",
        "CAFE TAKATSUDO",
        Industry::Cafe,
        "大間々町",
        "376-0101",
        "大間々2-3-4",
    ),
    (
        "ながめ食堂",
        "ナガメショクドウ",
        "NAGAME SHOKUDO",
        Industry::Restaurant,
        "大間々町",
        "376-0101",
        "大間々3-1-2",
    ),
    (
        "大間々薬局",
        "オオママヤッキョク",
        "OMAMA PHARMACY",
        Industry::Drugstore,
        "大間々町",
        "376-0102",
        "桐原100",
    ),
    (
        "わたらせベーカリー",
        "ワタラセベーカリー",
        "WATARASE BAKERY",
        Industry::Bakery,
        "大間々町",
        "376-0101",
        "大間々5-6-7",
    ),
    (
        "笠懸ストア",
        "カサカケストア",
        "KASAKAKE STORE",
        Industry::Supermarket,
        "笠懸町",
        "379-2311",
        "鹿1-2",
    ),
    (
        "岩宿ラーメン",
        "イワジュクラーメン",
        "IWAJUKU RAMEN",
        Industry::Restaurant,
        "笠懸町",
        "379-2301",
        "阿左美10",
    ),
    (
        "笠懸ホームセンター",
        "カサカケホームセンター",
        "KASAKAKE HOME CENTER",
        Industry::HomeCenter,
        "笠懸町",
        "379-2311",
        "鹿200",
    ),
    (
        "みどり書店",
        "ミドリショテン",
        "MIDORI BOOKS",
        Industry::Books,
        "笠懸町",
        "379-2313",
        "西鹿田30",
    ),
    (
        "笠懸でんき",
        "カサカケデンキ",
        "KASAKAKE DENKI",
        Industry::Electronics,
        "笠懸町",
        "379-2311",
        "鹿55",
    ),
    (
        "ヘアサロン桐",
        "ヘアサロンキリ",
        "HAIR SALON KIRI",
        Industry::BeautySalon,
        "笠懸町",
        "379-2313",
        "西鹿田8",
    ),
    (
        "笠懸SS",
        "カサカケエスエス",
        "KASAKAKE SS",
        Industry::Fuel,
        "笠懸町",
        "379-2301",
        "阿左美77",
    ),
    (
        "東町よろず屋",
        "アズマチョウヨロズヤ",
        "AZUMA YOROZUYA",
        Industry::Convenience,
        "東町",
        "376-0301",
        "沢入1",
    ),
    (
        "草木湖そば",
        "クサギコソバ",
        "KUSAGIKO SOBA",
        Industry::Restaurant,
        "東町",
        "376-0302",
        "座間100",
    ),
    (
        "東町酒店",
        "アズマチョウサケテン",
        "AZUMA SAKETEN",
        Industry::Liquor,
        "東町",
        "376-0301",
        "花輪20",
    ),
    (
        "富弘花店",
        "トミヒロハナテン",
        "TOMIHIRO FLOWERS",
        Industry::Florist,
        "東町",
        "376-0302",
        "草木5",
    ),
    (
        "東町自動車",
        "アズマチョウジドウシャ",
        "AZUMA MOTORS",
        Industry::AutoRepair,
        "東町",
        "376-0301",
        "花輪300",
    ),
    (
        "わたらせ渓谷の宿",
        "ワタラセケイコクノヤド",
        "WATARASE INN",
        Industry::Hotel,
        "東町",
        "376-0302",
        "座間900",
    ),
    (
        "みどりタクシー",
        "ミドリタクシー",
        "MIDORI TAXI",
        Industry::Taxi,
        "大間々町",
        "376-0101",
        "大間々8-8",
    ),
    (
        "大間々衣料",
        "オオママイリョウ",
        "OMAMA CLOTHING",
        Industry::Clothing,
        "大間々町",
        "376-0101",
        "大間々4-4",
    ),
];

/// (phone, name, kana, district, postal, birth year, sets bought, charged yen)
type ResidentSeed = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i32,
    i64,
    i64,
);

const RESIDENTS: [ResidentSeed; 8] = [
    (
        RESIDENT_LOGIN,
        "緑 花子",
        "ミドリ ハナコ",
        "大間々町",
        "376-0101",
        1952,
        2,
        3000,
    ),
    (
        "09000000002",
        "桐原 一郎",
        "キリハラ イチロウ",
        "大間々町",
        "376-0102",
        1948,
        2,
        0,
    ),
    (
        "09000000003",
        "笠懸 美咲",
        "カサカケ ミサキ",
        "笠懸町",
        "379-2311",
        1985,
        1,
        5000,
    ),
    (
        "09000000004",
        "阿左美 健",
        "アザミ ケン",
        "笠懸町",
        "379-2301",
        1999,
        2,
        2000,
    ),
    (
        "09000000005",
        "沢入 トメ",
        "ソウリ トメ",
        "東町",
        "376-0301",
        1938,
        1,
        0,
    ),
    (
        "09000000006",
        "花輪 翔太",
        "ハナワ ショウタ",
        "東町",
        "376-0301",
        2004,
        0,
        10000,
    ),
    (
        "09000000007",
        "鹿田 由美",
        "シカダ ユミ",
        "笠懸町",
        "379-2313",
        1970,
        2,
        1000,
    ),
    (
        "09000000008",
        "高津戸 誠",
        "タカツド マコト",
        "大間々町",
        "376-0101",
        1962,
        1,
        0,
    ),
];

/// Fills an empty, migrated database with the demo data set. Without `draw_lottery` the
/// applications stand undrawn (for trying the lottery in the staff console), so nobody has
/// bought sets yet.
pub async fn seed_demo(
    db: &Db,
    programme: &Programme,
    cost: HashCost,
    now: DateTime<Utc>,
    draw_lottery: bool,
) -> Result<(), DemoError> {
    auth::create_staff(
        db,
        ADMIN_LOGIN,
        ADMIN_PASSWORD,
        "みどり市 管理者",
        Role::Administrator,
        cost,
        now,
    )
    .await
    .map_err(seed)?;
    auth::create_staff(
        db,
        "operator",
        "chiiki-demo-operator",
        "みどり市 担当者",
        Role::Operator,
        cost,
        now,
    )
    .await
    .map_err(seed)?;
    auth::create_staff(
        db,
        "viewer",
        "chiiki-demo-viewer",
        "みどり市 閲覧者",
        Role::Viewer,
        cost,
        now,
    )
    .await
    .map_err(seed)?;
    let mut store_ids = Vec::new();
    for (i, (name, kana, romanised, industry, district, postal, address)) in
        STORES.iter().enumerate()
    {
        let req = CreateStore {
            name: (*name).into(),
            kana: (*kana).into(),
            romanised_name: (*romanised).into(),
            industry: *industry,
            district: (*district).into(),
            address: (*address).into(),
            postal_code: (*postal).into(),
        };
        let new = NewStore::parse(&req, programme).map_err(seed)?;
        let store = stores::create(db, &new, now).await.map_err(seed)?;
        stores::transition(db, store.id, StoreStatus::Approved, now)
            .await
            .map_err(seed)?;
        // Payouts go to a made-up account at the city's bank, in the store's kana name.
        let account = crate::zengin::BankAccount::parse(
            "0128",
            "141",
            crate::zengin::DepositKind::Ordinary,
            &format!("{:07}", 1001 + i),
            kana,
        )
        .map_err(seed)?;
        stores::set_bank_account(db, store.id, &account, now)
            .await
            .map_err(seed)?;
        let login = format!("S{:04}", i + 1);
        let password = if i == 0 {
            STORE_PASSWORD.to_string()
        } else {
            format!("{STORE_PASSWORD}-{}", i + 1)
        };
        auth::create_store_staff(db, store.id, &login, &password, cost, now)
            .await
            .map_err(seed)?;
        store_ids.push(store.id);
    }
    let today = jst_date(now);
    // Residents apply during the (moved) application window; the lottery is committed and
    // drawn with a published demo seed; winners pay at a counter 20 days ago.
    let applied_at = programme.application.start() + Duration::days(1);
    let mut ids = Vec::with_capacity(RESIDENTS.len());
    for (n, (phone, name, kana, district, postal, year, sets, _)) in RESIDENTS.iter().enumerate() {
        let req = RegisterResident {
            name: (*name).into(),
            kana: (*kana).into(),
            birth_date: NaiveDate::from_ymd_opt(*year, 4, 1).unwrap_or(NaiveDate::MIN),
            postal_code: (*postal).into(),
            address: format!("{district}{}-{}", n + 1, n + 2),
            district: (*district).into(),
            phone: (*phone).into(),
            email: None,
            password: if n == 0 {
                RESIDENT_PASSWORD.into()
            } else {
                format!("{RESIDENT_PASSWORD}-{}", n + 1)
            },
            pin: RESIDENT_PIN.into(),
        };
        let new = NewResident::parse(&req, programme, today).map_err(seed)?;
        let id = residents::register(db, new, cost, applied_at.min(now))
            .await
            .map_err(seed)?;
        if *sets > 0 {
            let sets = SetCount::parse(*sets, programme).map_err(seed)?;
            applications::apply(db, programme, id, sets, applied_at)
                .await
                .map_err(seed)?;
        }
        ids.push(id);
    }
    let drawn_at = programme.application.end() + Duration::hours(10);
    let demo_seed = Seed::parse(DEMO_SEED).map_err(seed)?;
    if draw_lottery {
        lottery::commit(db, programme, &demo_seed.commitment(), "staff:1", drawn_at)
            .await
            .map_err(seed)?;
        lottery::draw(db, programme, &demo_seed, "staff:1", drawn_at)
            .await
            .map_err(seed)?;
    }
    for (n, (id, (_, _, _, _, _, _, _, charged))) in ids.iter().zip(RESIDENTS.iter()).enumerate() {
        let id = *id;
        let earlier = now - Duration::days(20);
        let order = sqlx::query_scalar::<_, i64>(
            "SELECT id FROM sale_orders WHERE programme = $1 AND resident_id = $2",
        )
        .bind(&programme.id)
        .bind(id)
        .fetch_optional(db.reader())
        .await
        .map_err(seed)?;
        let mut tx = db.begin().await.map_err(seed)?;
        if let Some(order_id) = order {
            let payment = Payment {
                method: SalePaymentMethod::Counter,
                reference: PaymentReference::parse(&format!("DEMO-S-{:04}", n + 1), "receipt")
                    .map_err(seed)?,
                notified_amount: None,
            };
            purchase::pay_order(&mut tx, programme, order_id, &payment, "staff:1", earlier)
                .await
                .map_err(seed)?;
        }
        if *charged > 0 {
            let input = ChargeInput {
                resident_id: id,
                amount: Yen(*charged),
                method: ChargeMethod::Cash,
                receipt_number: &format!("DEMO-{:04}", n + 1),
                actor: "staff:1",
            };
            ledger::charge(&mut tx, input, earlier)
                .await
                .map_err(seed)?;
        }
        // A little history: a few payments at stores in the resident's own district.
        if order.is_some() || *charged > 0 {
            // Without bought sets (the lottery left undrawn) only charged money can be spent.
            let mut left = if order.is_some() { i64::MAX } else { *charged };
            for (k, amount) in [1200, 860, 2400].into_iter().enumerate() {
                if amount > left {
                    continue;
                }
                left -= amount;
                let store_id = store_ids[(n * 3 + k) % store_ids.len()];
                let input = PaymentInput {
                    resident_id: id,
                    store_id,
                    amount: Yen(amount),
                    use_points: false,
                    programme,
                    channel: PaymentChannel::ResidentApp,
                };
                let at = earlier + Duration::days(2 + k as i64 * 5);
                ledger::pay(&mut tx, input, at).await.map_err(seed)?;
            }
        }
        tx.commit().await.map_err(seed)?;
    }
    seed_points(db, programme, ids.first().copied(), now).await
}

/// A few community points events around today, and the demo resident's past participations.
async fn seed_points(
    db: &Db,
    programme: &Programme,
    resident: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), DemoError> {
    use crate::points::{claims, events};
    use chiiki_core::protocol::{PointsEventSpec, PointsFrequency};
    let specs = [
        (
            "渡良瀬川河川敷クリーン作戦",
            "大間々町 高津戸峡 河川敷",
            "ごみ袋と軍手は受付でお渡しします。",
            100,
            now - Duration::hours(1),
            now + Duration::days(7),
            Some(200),
            PointsFrequency::Once,
        ),
        (
            "特定健診・がん検診の受診",
            "みどり市保健福祉センター",
            "受診後、受付のQRコードを読み取ってください。",
            500,
            now - Duration::days(30),
            now + Duration::days(60),
            None,
            PointsFrequency::Once,
        ),
        (
            "朝のラジオ体操",
            "笠懸町 鹿の川沼公園",
            "毎朝6時30分から。参加した日ごとにポイントが付きます。",
            10,
            now - Duration::days(10),
            now + Duration::days(20),
            Some(100),
            PointsFrequency::Daily,
        ),
    ];
    let mut created = Vec::new();
    for (name, place, description, points, starts_at, ends_at, capacity, frequency) in specs {
        let spec = PointsEventSpec {
            name: name.into(),
            place: place.into(),
            description: description.into(),
            points: Yen(points),
            starts_at,
            ends_at,
            capacity,
            frequency,
        };
        let spec = events::EventSpec::parse(&spec, &programme.points).map_err(seed)?;
        let event = events::create(
            db,
            &programme.id,
            &spec,
            "staff:1",
            now - Duration::days(31),
        )
        .await
        .map_err(seed)?;
        created.push(event.id);
    }
    let Some(resident) = resident else {
        return Ok(());
    };
    // The demo resident had a check-up a week ago and did the exercises on three mornings.
    let claims = [
        (created[1], now - Duration::days(7)),
        (created[2], now - Duration::days(3)),
        (created[2], now - Duration::days(2)),
        (created[2], now - Duration::days(1)),
    ];
    for (event_id, at) in claims {
        let mut tx = db.begin().await.map_err(seed)?;
        claims::claim(
            &mut tx,
            &programme.id,
            &programme.points,
            resident,
            event_id,
            at,
        )
        .await
        .map_err(seed)?;
        tx.commit().await.map_err(seed)?;
    }
    Ok(())
}
