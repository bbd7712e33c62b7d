//! A seeded simulation of the ledger against an in-memory model. Charges, payments and
//! refunds run through the server's own exactly-once path (`http::idempotent::run` over the
//! ledger functions) on a real database, with faults injected:
//! - the transaction fails at its end, after all its writes (nothing may persist; a retry
//!   with the same key must then do the work once),
//! - the response is lost (the retry with the same key must replay it, not repeat it),
//! - the request is delivered twice at once (both answers must be the same, one effect).
//!
//! The model predicts every answer (accepted or refused, balance after) and the database is
//! compared with it periodically and at the end. A failure prints the seed and the operation
//! number; `--seed` replays the same run.

use crate::bench::Engine;
use crate::env::{Postgres, Result, Rng, fail, sqlite_url, time_seed};
use crate::seed;
use axum::body::to_bytes;
use axum::http::StatusCode;
use chiiki_backend::auth::PinPolicy;
use chiiki_backend::clock::SystemClock;
use chiiki_backend::crypto::HashCost;
use chiiki_backend::http::error::ApiError;
use chiiki_backend::http::idempotent::{self, TxFuture};
use chiiki_backend::idempotency::IdempotencyKey;
use chiiki_backend::ledger::{self, ChargeInput, PaymentInput, RefundInput};
use chiiki_backend::{AppState, Settings};
use chiiki_core::Yen;
use chiiki_core::protocol::ChargeMethod;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

const RESIDENTS: usize = 40;
const STORES: usize = 4;
const BALANCE: i64 = 5_000;

#[derive(Clone, Copy, Debug)]
enum Op {
    Charge {
        resident: usize,
        amount: i64,
    },
    Pay {
        resident: usize,
        store: usize,
        amount: i64,
    },
    Refund {
        payment: usize,
        amount: i64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    FailsAtCommit,
    ResponseLost,
    Duplicate,
}

struct Payment {
    id: i64,
    resident: usize,
    store: usize,
    amount: i64,
    refunded: i64,
}

#[derive(Default)]
struct Model {
    balances: Vec<i64>,
    stores: Vec<i64>,
    payments: Vec<Payment>,
}

/// What came back: the status and the JSON body.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    body: serde_json::Value,
}

pub async fn run(engine: Engine, ops: u64, seed: Option<u64>, pg: Option<&Postgres>) -> Result<()> {
    let seed = seed.unwrap_or_else(time_seed);
    let flag = match engine {
        Engine::Sqlite => "--sqlite",
        Engine::Postgres => "--postgres",
    };
    let started = Instant::now();
    match simulate(engine, ops, seed, pg).await {
        Ok(faults) => {
            println!(
                "simulation ({}): {ops} operations, {faults} with injected faults, model and ledger agree ({:.1} s, seed {seed})",
                engine.name(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(e) => fail(format!(
            "simulation ({}) failed: {e}\n  replay: cargo run -p chiiki-bench -- --sim {flag} --seed {seed} --ops {ops}",
            engine.name()
        )),
    }
}

async fn simulate(engine: Engine, ops: u64, seed: u64, pg: Option<&Postgres>) -> Result<u64> {
    let dir = tempfile::Builder::new()
        .prefix("chiiki-sim.")
        .tempdir_in("/var/tmp")?;
    let url = match (engine, pg) {
        (Engine::Postgres, Some(pg)) => pg.fresh_database().await?,
        _ => sqlite_url(dir.path(), "sim.db"),
    };
    let db = seed::open(&url, &dir.path().join("keys.toml")).await?;
    if engine == Engine::Sqlite {
        // Durability across crashes is the crash harness's subject; here it is the logic, so
        // the (single) writer connection skips fsync to keep 10^5 operations quick.
        sqlx::query("PRAGMA synchronous = OFF")
            .execute(db.writer())
            .await?;
    }
    let programme = seed::programme()?;
    let population = seed::seed(&db, &programme, RESIDENTS, STORES, BALANCE).await?;
    let settings = Settings {
        hash_cost: HashCost::fast_for_tests(),
        pin_policy: PinPolicy::default(),
        trust_forwarded_for: false,
        hsts: false,
    };
    let state = AppState::new(db.clone(), programme, Arc::new(SystemClock), settings);
    let residents: Vec<i64> = population.residents.iter().map(|r| r.id).collect();
    let stores: Vec<i64> = population.stores.iter().map(|s| s.id).collect();
    let mut model = Model {
        balances: vec![BALANCE; RESIDENTS],
        stores: vec![0; STORES],
        payments: Vec::new(),
    };
    let mut rng = Rng::new(seed);
    let mut faults = 0u64;
    for n in 0..ops {
        let op = next_op(&mut rng, &model);
        let fault = match rng.below(100) {
            0..=4 => Fault::FailsAtCommit,
            5..=9 => Fault::ResponseLost,
            10..=14 => Fault::Duplicate,
            _ => Fault::None,
        };
        if fault != Fault::None {
            faults += 1;
        }
        let key = format!("sim-{n}");
        let answer = deliver(&state, &residents, &stores, &model, op, &key, fault)
            .await
            .map_err(|e| format!("operation {n} ({op:?}, {fault:?}): {e}"))?;
        apply(&mut model, op, &answer)
            .map_err(|e| format!("operation {n} ({op:?}, {fault:?}): {e}"))?;
        if (n + 1) % 25_000 == 0 || n + 1 == ops {
            compare(&state, &residents, &stores, &model)
                .await
                .map_err(|e| format!("after operation {n}: {e}"))?;
        }
    }
    db.close().await;
    Ok(faults)
}

fn next_op(rng: &mut Rng, model: &Model) -> Op {
    let roll = rng.below(100);
    if roll < 10 {
        Op::Charge {
            resident: rng.below(RESIDENTS as u64) as usize,
            amount: 1_000 + rng.below(10) as i64 * 1_000,
        }
    } else if roll < 25 && !model.payments.is_empty() {
        // Mostly recent payments, sometimes any.
        let len = model.payments.len() as u64;
        let payment = if rng.chance(0.8) {
            (len - 1 - rng.below(len.min(50))) as usize
        } else {
            rng.below(len) as usize
        };
        let amount = 100 + rng.below(model.payments[payment].amount as u64 / 100) as i64 * 100;
        Op::Refund { payment, amount }
    } else {
        Op::Pay {
            resident: rng.below(RESIDENTS as u64) as usize,
            store: rng.below(STORES as u64) as usize,
            amount: 100 + rng.below(60) as i64 * 100,
        }
    }
}

/// Sends `op` once or, with faults, as often as the fault needs; returns the answer the client
/// finally sees.
async fn deliver(
    state: &AppState,
    residents: &[i64],
    stores: &[i64],
    model: &Model,
    op: Op,
    key: &str,
    fault: Fault,
) -> Result<Answer> {
    let once =
        |fail_at_commit: bool| attempt(state, residents, stores, model, op, key, fail_at_commit);
    match fault {
        Fault::None => once(false).await,
        Fault::FailsAtCommit => {
            let first = once(true).await?;
            let again = once(false).await?;
            // Refused by the rules before the failure point: the refusal is remembered.
            if first.status != 500 && first != again {
                return fail(format!("answered {first:?}, then {again:?}"));
            }
            Ok(again)
        }
        Fault::ResponseLost => {
            let lost = once(false).await?;
            let again = once(false).await?;
            if lost != again {
                return fail(format!(
                    "the retry answered {again:?}, the first time {lost:?}"
                ));
            }
            Ok(again)
        }
        Fault::Duplicate => {
            let (a, b) = tokio::join!(once(false), once(false));
            let (a, b) = (a?, b?);
            if a != b {
                return fail(format!("duplicate deliveries answered {a:?} and {b:?}"));
            }
            Ok(a)
        }
    }
}

async fn attempt(
    state: &AppState,
    residents: &[i64],
    stores: &[i64],
    model: &Model,
    op: Op,
    key: &str,
    fail_at_commit: bool,
) -> Result<Answer> {
    let now = state.clock.now();
    let injected = || ApiError::internal("injected: the transaction fails at commit");
    let result = match op {
        Op::Charge { resident, amount } => {
            let resident_id = residents[resident];
            let body = serde_json::json!({"resident_id": resident_id, "amount": amount});
            let key = IdempotencyKey::new("staff:1", Some(key), "charge", &body)?;
            idempotent::run(
                state,
                &key,
                StatusCode::CREATED,
                move |tx| -> TxFuture<'_, _> {
                    Box::pin(async move {
                        let receipt_number = format!("SIM-{resident_id}");
                        let input = ChargeInput {
                            resident_id,
                            amount: Yen(amount),
                            method: ChargeMethod::Cash,
                            receipt_number: &receipt_number,
                            actor: "staff:1",
                        };
                        let receipt = ledger::charge(tx, input, now).await?;
                        if fail_at_commit {
                            return Err(injected());
                        }
                        let id = receipt.charge_id;
                        Ok((receipt, id))
                    })
                },
            )
            .await
        }
        Op::Pay {
            resident,
            store,
            amount,
        } => {
            let resident_id = residents[resident];
            let store_id = stores[store];
            let body = serde_json::json!({"store_id": store_id, "amount": amount});
            let scope = format!("resident:{resident_id}");
            let key = IdempotencyKey::new(&scope, Some(key), "POST /api/v1/payments", &body)?;
            let programme = state.programme.clone();
            idempotent::run(
                state,
                &key,
                StatusCode::CREATED,
                move |tx| -> TxFuture<'_, _> {
                    Box::pin(async move {
                        let input = PaymentInput {
                            resident_id,
                            store_id,
                            amount: Yen(amount),
                            use_points: false,
                            programme: &programme,
                        };
                        let receipt = ledger::pay(tx, input, now).await?;
                        if fail_at_commit {
                            return Err(injected());
                        }
                        let id = receipt.payment_id;
                        Ok((receipt, id))
                    })
                },
            )
            .await
        }
        Op::Refund { payment, amount } => {
            let payment_id = model.payments[payment].id;
            let body = serde_json::json!({"amount": amount});
            let route = format!("POST /api/v1/payments/{payment_id}/refunds");
            let key = IdempotencyKey::new("staff:1", Some(key), &route, &body)?;
            idempotent::run(
                state,
                &key,
                StatusCode::CREATED,
                move |tx| -> TxFuture<'_, _> {
                    Box::pin(async move {
                        let input = RefundInput {
                            payment_id,
                            amount: Yen(amount),
                            reason: "simulation",
                            actor: "staff:1",
                            only_store: None,
                        };
                        let receipt = ledger::refund(tx, input, now).await?;
                        if fail_at_commit {
                            return Err(injected());
                        }
                        let id = receipt.refund_id;
                        Ok((receipt, id))
                    })
                },
            )
            .await
        }
    };
    let response = match result {
        Ok(response) => response,
        Err(e) => {
            return Ok(Answer {
                status: e.status.as_u16(),
                body: serde_json::to_value(e.body())?,
            });
        }
    };
    let status = response.status().as_u16();
    let bytes = to_bytes(response.into_body(), usize::MAX).await?;
    Ok(Answer {
        status,
        body: serde_json::from_slice(&bytes)?,
    })
}

/// Checks the answer against the model's prediction and applies it.
fn apply(model: &mut Model, op: Op, answer: &Answer) -> Result<()> {
    match op {
        Op::Charge { resident, amount } => {
            if answer.status != 201 {
                return fail(format!("a charge was refused: {answer:?}"));
            }
            model.balances[resident] += amount;
        }
        Op::Pay {
            resident,
            store,
            amount,
        } => {
            let enough = model.balances[resident] >= amount;
            match (answer.status, enough) {
                (201, true) => {
                    model.balances[resident] -= amount;
                    model.stores[store] += amount;
                    let after = answer.body["balance_after"].as_i64();
                    if after != Some(model.balances[resident]) {
                        return fail(format!(
                            "balance after {after:?}, the model says {}",
                            model.balances[resident]
                        ));
                    }
                    let id = answer.body["payment_id"]
                        .as_i64()
                        .ok_or("a receipt without payment_id")?;
                    if model.payments.iter().rev().take(100).any(|p| p.id == id) {
                        return fail(format!("payment id {id} was given twice"));
                    }
                    model.payments.push(Payment {
                        id,
                        resident,
                        store,
                        amount,
                        refunded: 0,
                    });
                }
                (422, false) => {}
                (status, enough) => {
                    return fail(format!(
                        "answered {status} ({}), the model expected {}",
                        answer.body,
                        if enough { "acceptance" } else { "a refusal" }
                    ));
                }
            }
        }
        Op::Refund { payment, amount } => {
            let p = &mut model.payments[payment];
            let fits = p.refunded + amount <= p.amount;
            match (answer.status, fits) {
                (201, true) => {
                    p.refunded += amount;
                    model.balances[p.resident] += amount;
                    model.stores[p.store] -= amount;
                    if answer.body["refunded_total"].as_i64() != Some(p.refunded) {
                        return fail(format!(
                            "refunded total {}, the model says {}",
                            answer.body["refunded_total"], p.refunded
                        ));
                    }
                }
                (status, false) if (400..500).contains(&status) => {}
                (status, fits) => {
                    return fail(format!(
                        "answered {status} ({}), the model expected {}",
                        answer.body,
                        if fits { "acceptance" } else { "a refusal" }
                    ));
                }
            }
        }
    }
    Ok(())
}

async fn compare(state: &AppState, residents: &[i64], stores: &[i64], model: &Model) -> Result<()> {
    let pool = state.db.writer();
    let held: HashMap<i64, i64> = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(format!(
        "SELECT owner_id, {} FROM accounts WHERE kind LIKE 'resident_%' GROUP BY owner_id",
        chiiki_backend::db::sum("balance")
    )))
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    for (i, id) in residents.iter().enumerate() {
        let db = held.get(id).copied().unwrap_or(0);
        if db != model.balances[i] {
            return fail(format!(
                "resident {id} holds {db}, the model says {}",
                model.balances[i]
            ));
        }
    }
    for (i, id) in stores.iter().enumerate() {
        let db = ledger::store_balance(pool, *id).await?.get();
        if db != model.stores[i] {
            return fail(format!(
                "store {id} holds {db}, the model says {}",
                model.stores[i]
            ));
        }
    }
    let payments =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM operations WHERE kind = 'payment'")
            .fetch_one(pool)
            .await?;
    if payments != model.payments.len() as i64 {
        return fail(format!(
            "{payments} payments in the ledger, the model has {}",
            model.payments.len()
        ));
    }
    let problems = ledger::check_invariants(pool).await?;
    if !problems.is_empty() {
        return fail(format!("ledger invariants: {problems:?}"));
    }
    Ok(())
}
