//! Crash safety: payments flow from several clients while `chiiki serve` is killed with
//! SIGKILL at random moments and started again. Clients retry every request with its
//! idempotency key until they get a definite answer (as the wallet does). Afterwards the
//! database is checked directly, with SQL of our own and with the ledger's invariants:
//! every acknowledged payment exists exactly once and nothing else was paid, no key maps to
//! two operations, all balances sum to zero, no purse is negative, and each store's balance
//! and each resident's purses equal what the acknowledged payments say. No payment may be
//! refused but for want of balance (there is balance enough for the whole run).

use crate::bench::Engine;
use crate::env::{Postgres, Result, Rng, Server, fail, sqlite_url, time_seed};
use crate::load;
use crate::seed::{self, PIN};
use chiiki_backend::db::Db;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RESIDENTS: usize = 300;
const STORES: usize = 10;
/// Each resident's charge per kill of the run: several times what the clients spend between
/// two kills (measured on 2 cores: about ¥2,400 a resident with CI's debug build, ¥5,900 with
/// a release build), so that payments, not refusals for want of balance, are what every kill
/// interrupts, in CI's 30 kills and the long mode's 300 alike.
const BALANCE_PER_KILL: i64 = 20_000;
const CLIENTS: usize = 8;
/// The one refusal a correct server gives these clients (signed in, right PIN, known store):
/// a purse run dry at the very end. Any other is a finding.
const EXPECTED_REFUSAL: &str = "insufficient_balance";

struct Ack {
    resident_id: i64,
    store_id: i64,
    amount: i64,
    payment_id: i64,
    key: String,
}

#[derive(Default)]
struct Tally {
    acks: Vec<Ack>,
    /// Definite refusals by status and the API's error code.
    refused: BTreeMap<(u16, String), u64>,
    retries: u64,
}

pub async fn run(
    engine: Engine,
    chiiki: &Path,
    kills: usize,
    seed: Option<u64>,
    pg: Option<&Postgres>,
) -> Result<()> {
    let seed = seed.unwrap_or_else(time_seed);
    let dir = tempfile::Builder::new()
        .prefix("chiiki-crash.")
        .tempdir_in("/var/tmp")?;
    let url = match (engine, pg) {
        (Engine::Postgres, Some(pg)) => pg.fresh_database().await?,
        _ => sqlite_url(dir.path(), "chiiki.db"),
    };
    let keys = dir.path().join("keys.toml");
    let db = seed::open(&url, &keys).await?;
    let programme = seed::programme()?;
    let balance = BALANCE_PER_KILL * kills.max(6) as i64;
    let population = Arc::new(seed::seed(&db, &programme, RESIDENTS, STORES, balance).await?);
    db.close().await;

    let mut server = Server::start(chiiki, &url, &keys).await?;
    let base = server.url.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let sent = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (population, stop, tally, sent, client, base) = (
            population.clone(),
            stop.clone(),
            tally.clone(),
            sent.clone(),
            client.clone(),
            base.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed ^ (c as u64 + 1).wrapping_mul(0x1000_0001));
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let r = &population.residents[rng.below(RESIDENTS as u64) as usize];
                let store_id = population.stores[rng.below(STORES as u64) as usize].id;
                let amount = 100 + rng.below(50) as i64 * 100;
                let key = format!("crash-{seed:x}-{c}-{n}");
                let body = serde_json::json!({"store_id": store_id, "amount": amount, "pin": PIN});
                // The same request, with the same key, until a definite answer.
                loop {
                    sent.fetch_add(1, Ordering::Relaxed);
                    let answer = client
                        .post(format!("{base}/api/v1/payments"))
                        .bearer_auth(&r.token)
                        .header("Idempotency-Key", &key)
                        .json(&body)
                        .send()
                        .await;
                    let definite = match answer {
                        Ok(resp) if resp.status().as_u16() == 201 => {
                            // A body cut by the kill is no answer: retry.
                            let receipt = resp.json::<serde_json::Value>().await.ok();
                            match receipt.and_then(|v| v["payment_id"].as_i64()) {
                                Some(payment_id) => {
                                    if let Ok(mut t) = tally.lock() {
                                        t.acks.push(Ack {
                                            resident_id: r.id,
                                            store_id,
                                            amount,
                                            payment_id,
                                            key: key.clone(),
                                        });
                                    }
                                    true
                                }
                                None => false,
                            }
                        }
                        // Rate limits and server faults are worth retrying; other client
                        // errors (not enough balance) are the final answer.
                        Ok(resp)
                            if resp.status().is_client_error() && resp.status().as_u16() != 429 =>
                        {
                            let status = resp.status().as_u16();
                            let body = resp.json::<serde_json::Value>().await.ok();
                            let code = load::error_code(body.as_ref());
                            if let Ok(mut t) = tally.lock() {
                                *t.refused.entry((status, code)).or_default() += 1;
                            }
                            true
                        }
                        _ => false,
                    };
                    if definite {
                        break;
                    }
                    if let Ok(mut t) = tally.lock() {
                        t.retries += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }

    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut back = Vec::with_capacity(kills);
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(50 + rng.below(350))).await;
        server.kill()?;
        tokio::time::sleep(Duration::from_millis(rng.below(50))).await;
        back.push(server.restart().await?);
    }
    // Let the clients see a live server for a moment, then finish their open requests.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await?;
    }
    server.kill()?;
    let tally = std::mem::take(&mut *tally.lock().map_err(|_| "tally poisoned")?);
    println!(
        "crash harness ({}): {kills} SIGKILLs in {:.1} s, {} requests sent, {} payments acknowledged, {} refused{}, {} retries (seed {seed})",
        engine.name(),
        started.elapsed().as_secs_f64(),
        sent.load(Ordering::Relaxed),
        tally.acks.len(),
        tally.refused.values().sum::<u64>(),
        if tally.refused.is_empty() {
            String::new()
        } else {
            format!(" ({})", load::describe(&tally.refused))
        },
        tally.retries
    );
    back.sort_unstable();
    if let (Some(median), Some(longest)) = (back.get(back.len() / 2), back.last()) {
        println!(
            "crash harness ({}): ready again after a kill in {:.0} ms (median), {:.0} ms at most",
            engine.name(),
            median.as_secs_f64() * 1000.0,
            longest.as_secs_f64() * 1000.0
        );
    }
    if tally.acks.len() < kills {
        return fail(format!(
            "too few payments went through ({}) to say anything",
            tally.acks.len()
        ));
    }

    let db = seed::open(&url, &keys).await?;
    let mut problems = check(&db, &tally.acks, &population).await?;
    db.close().await;
    for ((status, code), n) in &tally.refused {
        if code != EXPECTED_REFUSAL {
            problems.push(format!(
                "{n} payments refused with {status} {code:?}: only {EXPECTED_REFUSAL} is expected"
            ));
        }
    }
    if problems.is_empty() {
        println!("crash harness ({}): every check passed", engine.name());
        Ok(())
    } else {
        for p in problems.iter().take(20) {
            eprintln!("  {p}");
        }
        fail(format!(
            "crash harness ({}): {} problems (seed {seed})",
            engine.name(),
            problems.len()
        ))
    }
}

async fn check(db: &Db, acks: &[Ack], population: &seed::Population) -> Result<Vec<String>> {
    let pool = db.writer();
    let mut problems = Vec::new();

    // Every acknowledged payment exists exactly once, as acknowledged; nothing else was paid.
    let payments: HashMap<i64, (i64, i64, i64)> = sqlx::query_as::<_, (i64, i64, i64, i64)>(
        "SELECT id, resident_id, store_id, amount FROM operations WHERE kind = 'payment'",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(id, r, s, a)| (id, (r, s, a)))
    .collect();
    let mut seen = HashMap::new();
    for ack in acks {
        if let Some(other) = seen.insert(ack.payment_id, &ack.key) {
            problems.push(format!(
                "payment {} acknowledged for two keys ({other}, {})",
                ack.payment_id, ack.key
            ));
        }
        match payments.get(&ack.payment_id) {
            Some(&row) if row == (ack.resident_id, ack.store_id, ack.amount) => {}
            Some(row) => problems.push(format!(
                "payment {} is {row:?}, acknowledged as ({}, {}, {})",
                ack.payment_id, ack.resident_id, ack.store_id, ack.amount
            )),
            None => problems.push(format!(
                "acknowledged payment {} (key {}) is missing",
                ack.payment_id, ack.key
            )),
        }
        let stored = sqlx::query_scalar::<_, Option<i64>>(
            "SELECT operation_id FROM idempotency_keys WHERE scope = $1 AND key = $2",
        )
        .bind(format!("resident:{}", ack.resident_id))
        .bind(&ack.key)
        .fetch_optional(pool)
        .await?;
        if stored != Some(Some(ack.payment_id)) {
            problems.push(format!(
                "key {} maps to {stored:?}, not payment {}",
                ack.key, ack.payment_id
            ));
        }
    }
    if payments.len() != acks.len() {
        problems.push(format!(
            "{} payments in the ledger, {} acknowledged",
            payments.len(),
            acks.len()
        ));
    }

    // No key maps to two operations, no operation to two keys, no claim left pending.
    let doubled = sqlx::query_scalar::<_, i64>(
        "SELECT operation_id FROM idempotency_keys WHERE operation_id IS NOT NULL
         GROUP BY operation_id HAVING COUNT(*) > 1",
    )
    .fetch_all(pool)
    .await?;
    for op in doubled {
        problems.push(format!("operation {op} is the result of two keys"));
    }
    let pending =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM idempotency_keys WHERE status = 0")
            .fetch_one(pool)
            .await?;
    if pending != 0 {
        problems.push(format!("{pending} idempotency keys are left pending"));
    }
    let transfers_per_payment = sqlx::query_as::<_, (i64, i64)>(
        "SELECT o.id, COUNT(t.id) FROM operations o LEFT JOIN transfers t ON t.operation_id = o.id
         WHERE o.kind = 'payment' GROUP BY o.id HAVING COUNT(t.id) = 0",
    )
    .fetch_all(pool)
    .await?;
    for (op, _) in transfers_per_payment {
        problems.push(format!("payment {op} has no transfers"));
    }

    // Balances: derived from transfers, independently of the cached ones.
    let accounts = sqlx::query_as::<_, (i64, String, i64, i64, i64)>(sqlx::AssertSqlSafe(
        chiiki_backend::ledger::accounts_with_balance_from_legs(&[
            "a.id",
            "a.kind",
            "a.owner_id",
            "a.balance",
        ]),
    ))
    .fetch_all(pool)
    .await?;
    let total: i64 = accounts.iter().map(|a| a.4).sum();
    if total != 0 {
        problems.push(format!("all balances sum to {total}, not zero"));
    }
    let mut paid_by: BTreeMap<i64, i64> = BTreeMap::new();
    let mut paid_to: BTreeMap<i64, i64> = BTreeMap::new();
    for ack in acks {
        *paid_by.entry(ack.resident_id).or_default() += ack.amount;
        *paid_to.entry(ack.store_id).or_default() += ack.amount;
    }
    let mut purses: BTreeMap<i64, i64> = BTreeMap::new();
    for (id, kind, owner, cached, derived) in &accounts {
        if kind.starts_with("resident_") {
            if *cached < 0 || *derived < 0 {
                problems.push(format!("resident purse {id} is negative ({derived})"));
            }
            if cached != derived {
                problems.push(format!(
                    "purse {id} caches {cached}, its transfers say {derived}"
                ));
            }
            *purses.entry(*owner).or_default() += derived;
        }
        if kind == "store" {
            let expected = paid_to.get(owner).copied().unwrap_or(0);
            if *derived != expected {
                problems.push(format!(
                    "store {owner} holds {derived}, acknowledged payments say {expected}"
                ));
            }
            let legs = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM transfers t JOIN operations o ON o.id = t.operation_id
                 WHERE o.kind = 'payment' AND o.store_id = $1 AND t.credit_account = $2",
                chiiki_backend::db::sum("t.amount")
            )))
            .bind(owner)
            .bind(id)
            .fetch_one(pool)
            .await?;
            if legs != *derived {
                problems.push(format!(
                    "store {owner}: balance {derived}, its payment legs sum to {legs}"
                ));
            }
        }
    }
    for r in &population.residents {
        let expected = population.balance - paid_by.get(&r.id).copied().unwrap_or(0);
        let held = purses.get(&r.id).copied().unwrap_or(0);
        if held != expected {
            problems.push(format!(
                "resident {} holds {held}, acknowledged payments leave {expected}",
                r.id
            ));
        }
    }
    problems.extend(chiiki_backend::ledger::check_invariants(pool).await?);
    Ok(problems)
}
