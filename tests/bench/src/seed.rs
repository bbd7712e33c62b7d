//! A programme's population, written straight into the database through the backend's own
//! functions (registration, sessions, charges, the sale's draw) rather than over HTTP: 30,000
//! registrations and sign-ins would otherwise spend an hour in argon2.
//!
//! Honest about cost: every resident's PIN hash is the server's own keyed hash with the
//! database's pepper (hashed once, stored for everyone: verifying it costs the same as
//! verifying a hash of one's own). Passwords are hashed once too; nobody signs in
//! with them, sessions are opened directly.

use crate::env::Result;
use chiiki_backend::auth::{self, PrincipalKind};
use chiiki_backend::crypto::{self, HashCost};
use chiiki_backend::db::{Db, Engine};
use chiiki_backend::ledger::{self, ChargeInput};
use chiiki_backend::programme::Programme;
use chiiki_backend::residents::{self, NewResident};
use chiiki_backend::sale::lottery::{self, Seed};
use chiiki_backend::stores::{self, NewStore};
use chiiki_backend::vault::{Vault, write_private};
use chiiki_core::Yen;
use chiiki_core::protocol::{ChargeMethod, CreateStore, Industry, RegisterResident, StoreStatus};
use chiiki_core::time::jst_date;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::path::Path;
use std::sync::Arc;

pub const PIN: &str = "1234";
const PASSWORD: &str = "bench-password";
const LOTTERY_SEED: &str = "be7c0000be7c0000be7c0000be7c0000be7c0000be7c0000be7c0000be7c0000";

pub struct Resident {
    pub id: i64,
    pub token: String,
}

pub struct Store {
    pub id: i64,
    /// A session of the store's staff (refunds).
    pub token: String,
}

pub struct Population {
    pub residents: Vec<Resident>,
    pub stores: Vec<Store>,
    /// What every resident was charged with.
    pub balance: i64,
}

/// The programme as `chiiki serve --shift-to-today` serves it today.
pub fn programme() -> Result<Programme> {
    let base = Programme::midori_2024()?;
    Ok(chiiki_backend::demo::shifted_programme(
        &base,
        jst_date(Utc::now()),
    ))
}

/// Writes a new key file and opens the database with it, migrated.
pub async fn open(database_url: &str, keys_file: &Path) -> Result<Db> {
    if !keys_file.exists() {
        write_private(keys_file, &Vault::generate_toml("bench")?)?;
    }
    let vault = Arc::new(Vault::from_file(keys_file)?);
    let db = Db::connect(database_url).await?.with_vault(vault);
    db.migrate().await?;
    db.check_vault().await?;
    Ok(db)
}

/// Writes out now what the seeding left for a checkpoint: on SQLite the WAL copied back and
/// cut to nothing, tried again while a reader or another checkpoint is in the way (SQLite
/// then reports itself busy instead of failing), for up to a minute; on PostgreSQL
/// `CHECKPOINT`. Where it cannot, it says so on stderr and the run goes on.
async fn checkpoint(db: &Db) {
    let refused = match db.engine {
        Engine::Sqlite => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(db.writer())
                    .await
                {
                    Ok((0, _, _)) => break None,
                    Ok(_) if std::time::Instant::now() < deadline => {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    Ok(_) => break Some("still busy after a minute".to_string()),
                    Err(e) => break Some(e.to_string()),
                }
            }
        }
        // PostgreSQL allows it to superusers and `pg_checkpoint` only.
        Engine::Postgres => sqlx::raw_sql("CHECKPOINT")
            .execute(db.writer())
            .await
            .err()
            .map(|e| e.to_string()),
    };
    if let Some(why) = refused {
        eprintln!(
            "chiiki-bench: no checkpoint after seeding ({why}); one may fall into a scenario"
        );
    }
}

/// Seeds `residents` residents with `balance` yen each and `stores` approved stores, and
/// draws the (empty) lottery so that the additional sale is open.
pub async fn seed(
    db: &Db,
    programme: &Programme,
    residents: usize,
    stores: usize,
    balance: i64,
) -> Result<Population> {
    let now = Utc::now();
    let today = jst_date(now);
    let pepper = db.vault().pin_pepper();
    let (password_hash, pin_hash) = tokio::task::spawn_blocking(move || {
        Ok::<_, crypto::CryptoError>((
            crypto::hash_secret(PASSWORD, HashCost::default())?,
            crypto::hash_pin(PIN, &pepper)?,
        ))
    })
    .await??;

    let mut store_list = Vec::with_capacity(stores);
    for i in 0..stores {
        let req = CreateStore {
            name: format!("ベンチ商店{}", i + 1),
            kana: "ベンチショウテン".into(),
            romanised_name: "BENCH STORE".into(),
            industry: Industry::Supermarket,
            district: "大間々町".into(),
            address: format!("大間々{}-1", i + 1),
            postal_code: "376-0101".into(),
        };
        let new = NewStore::parse(&req, programme)?;
        let store = stores::create(db, &new, now).await?;
        stores::transition(db, store.id, StoreStatus::Approved, now).await?;
        // Store staff never sign in during the benchmark: a cheap hash is enough here.
        let staff = auth::create_store_staff(
            db,
            store.id,
            &format!("B{:05}", i + 1),
            PASSWORD,
            HashCost::fast_for_tests(),
            now,
        )
        .await?;
        let token = session(db, PrincipalKind::StoreStaff, staff, now).await?;
        store_list.push(Store {
            id: store.id,
            token,
        });
    }

    // PostgreSQL pays a round trip per statement: several writers in parallel. SQLite has one
    // writer anyway.
    let parallel = match db.engine {
        chiiki_backend::db::Engine::Postgres => 4,
        chiiki_backend::db::Engine::Sqlite => 1,
    };
    let mut tasks = Vec::new();
    for part in 0..parallel {
        let db = db.clone();
        let programme = programme.clone();
        let (password_hash, pin_hash) = (password_hash.clone(), pin_hash.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mine: Vec<usize> = (0..residents).filter(|n| n % parallel == part).collect();
            for chunk in mine.chunks(500) {
                let mut tx = db.begin().await?;
                for &n in chunk {
                    let req = RegisterResident {
                        name: "山田 太郎".into(),
                        kana: "ヤマダ タロウ".into(),
                        birth_date: NaiveDate::from_ymd_opt(1980, 4, 1).unwrap_or(NaiveDate::MIN),
                        postal_code: "376-0101".into(),
                        address: format!("大間々{}-{}", n / 100 + 1, n % 100 + 1),
                        district: "大間々町".into(),
                        phone: format!("080{:08}", n + 1),
                        email: None,
                        password: PASSWORD.into(),
                        pin: PIN.into(),
                    };
                    let new = NewResident::parse(&req, &programme, today)?;
                    let id = residents::insert_registered(
                        &mut tx,
                        db.vault(),
                        &new,
                        &password_hash,
                        &pin_hash,
                        now,
                    )
                    .await?;
                    let credential = credential_of(&mut tx, PrincipalKind::Resident, id).await?;
                    let (token, _) = auth::open_session(
                        &mut tx,
                        credential,
                        PrincipalKind::Resident,
                        "bench",
                        None,
                        now,
                    )
                    .await?;
                    let receipt = format!("BENCH-{n}");
                    let input = ChargeInput {
                        resident_id: id,
                        amount: Yen(balance),
                        method: ChargeMethod::Cash,
                        receipt_number: &receipt,
                        actor: "staff:1",
                    };
                    ledger::charge(&mut tx, input, now).await?;
                    out.push(Resident { id, token });
                }
                tx.commit().await?;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(out)
        }));
    }
    let mut resident_list = Vec::with_capacity(residents);
    for task in tasks {
        resident_list.extend(task.await??);
    }
    resident_list.sort_by_key(|r| r.id);

    // No applications: the draw leaves every set to the additional sale, open from today.
    let drawn_at = programme.application.end() + Duration::hours(10);
    let seed = Seed::parse(LOTTERY_SEED)?;
    lottery::commit(db, programme, &seed.commitment(), "staff:1", drawn_at).await?;
    lottery::draw(db, programme, &seed, "staff:1", drawn_at).await?;
    // As after any bulk load: the planners' statistics describe the tables as loaded, not as
    // they were empty a minute ago; on PostgreSQL the load vacuumed too, or autovacuum does it
    // (seconds of it, on a table of every resident and key) when it first visits the new
    // database, about a minute on: inside a scenario (the sale burst, seen on 2026-12-07).
    let after_load = match db.engine {
        Engine::Sqlite => "ANALYZE",
        Engine::Postgres => "VACUUM (ANALYZE)",
    };
    sqlx::raw_sql(after_load).execute(db.writer()).await?;
    // And the load's pages written out now: otherwise the checkpoint it brings on (PostgreSQL's
    // at `max_wal_size`, SQLite's copy of the WAL back) falls into whichever scenario is running
    // then (PostgreSQL's into the sale burst, seen on 2026-12-06) instead of into none.
    checkpoint(db).await;

    Ok(Population {
        residents: resident_list,
        stores: store_list,
        balance,
    })
}

async fn credential_of(
    tx: &mut chiiki_backend::db::Tx,
    kind: PrincipalKind,
    principal_id: i64,
) -> Result<i64> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT id FROM credentials WHERE principal_kind = $1 AND principal_id = $2",
    )
    .bind(kind.as_str())
    .bind(principal_id)
    .fetch_one(&mut **tx)
    .await?)
}

async fn session(
    db: &Db,
    kind: PrincipalKind,
    principal_id: i64,
    now: DateTime<Utc>,
) -> Result<String> {
    let mut tx = db.begin().await?;
    let credential = credential_of(&mut tx, kind, principal_id).await?;
    let (token, _) = auth::open_session(&mut tx, credential, kind, "bench", None, now).await?;
    tx.commit().await?;
    Ok(token)
}
