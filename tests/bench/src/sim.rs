//! A seeded simulation of the ledger against an in-memory model. Everything runs through the
//! server's own exactly-once paths on a real database: residents' payments as the payment
//! writer runs them (`http::payment_batch::apply`, several to a transaction, in batches of one
//! to eight), charges and refunds through `http::idempotent::run`. Faults are injected:
//! - the transaction fails at its end, after all its writes (nothing may persist; a retry
//!   with the same keys must then do the work once),
//! - the response is lost (the retry with the same key must replay it, not repeat it),
//! - the request is delivered twice at once (both answers must be the same, one effect).
//!
//! Some payments carry a wrong PIN: the model counts wrong PINs per resident and locks
//! payments at the fifth, so a PIN counted twice for one key (on a retry) shows as a lock
//! that comes too early. The model predicts every answer (accepted or refused and why,
//! balance after) and the database is compared with it periodically and at the end. A failure
//! prints the seed and the operation number; `--seed` replays the same run.

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
use chiiki_backend::http::payment_batch::{self, Paid, PaymentJob, Rules};
use chiiki_backend::idempotency::{IdempotencyKey, RequestKey};
use chiiki_backend::ledger::{self, ChargeInput, RefundInput};
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
        right_pin: bool,
    },
    Refund {
        payment: usize,
        amount: i64,
    },
}

/// Wrong PINs in a row that lock a resident's payments (the server's default policy).
const PIN_TRIES: i64 = 5;

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
    /// Wrong PINs since the last right one, and whether payments are locked (for the rest of
    /// the run: the lock outlasts it).
    pin_failures: Vec<i64>,
    locked: Vec<bool>,
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
        Ok((deliveries, faults)) => {
            println!(
                "simulation ({}): {ops} operations in {deliveries} deliveries (a request or a batch of payments), {faults} of them with injected faults, model and ledger agree ({:.1} s, seed {seed})",
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

/// Runs the simulation; returns how many deliveries it made and how many of them were faulted.
async fn simulate(
    engine: Engine,
    ops: u64,
    seed: u64,
    pg: Option<&Postgres>,
) -> Result<(u64, u64)> {
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
    let sessions: Vec<String> = population
        .residents
        .iter()
        .map(|r| chiiki_backend::crypto::token_hash(&r.token))
        .collect();
    let stores: Vec<i64> = population.stores.iter().map(|s| s.id).collect();
    let mut model = Model {
        balances: vec![BALANCE; RESIDENTS],
        stores: vec![0; STORES],
        payments: Vec::new(),
        pin_failures: vec![0; RESIDENTS],
        locked: vec![false; RESIDENTS],
    };
    let mut rng = Rng::new(seed);
    let (mut deliveries, mut faults) = (0u64, 0u64);
    let mut n = 0u64;
    while n < ops {
        let op = next_op(&mut rng, &model);
        let fault = match rng.below(100) {
            0..=4 => Fault::FailsAtCommit,
            5..=9 => Fault::ResponseLost,
            10..=14 => Fault::Duplicate,
            _ => Fault::None,
        };
        deliveries += 1;
        if fault != Fault::None {
            faults += 1;
        }
        let mut batch = vec![op];
        if matches!(op, Op::Pay { .. }) {
            let size = 1 + rng.below(8);
            while (batch.len() as u64) < size && n + (batch.len() as u64) < ops {
                batch.push(next_payment(&mut rng));
            }
        }
        let first = n;
        let context = |e: String| format!("operations {first}.. ({batch:?}, {fault:?}): {e}");
        let answers = match op {
            Op::Pay { .. } => deliver_payments(&state, &sessions, &stores, &batch, first, fault)
                .await
                .map_err(|e| context(e.to_string()))?,
            _ => {
                let key = format!("sim-{n}");
                vec![
                    deliver(&state, &residents, &model, op, &key, fault)
                        .await
                        .map_err(|e| context(e.to_string()))?,
                ]
            }
        };
        for (k, (op, answer)) in batch.iter().zip(&answers).enumerate() {
            apply(&mut model, *op, answer)
                .map_err(|e| format!("operation {} ({op:?}, {fault:?}): {e}", first + k as u64))?;
        }
        n += batch.len() as u64;
        if n / 25_000 != first / 25_000 || n >= ops {
            compare(&state, &residents, &stores, &model)
                .await
                .map_err(|e| format!("after operation {}: {e}", n - 1))?;
        }
    }
    db.close().await;
    Ok((deliveries, faults))
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
        next_payment(rng)
    }
}

/// A payment; one in thirty with a wrong PIN.
fn next_payment(rng: &mut Rng) -> Op {
    Op::Pay {
        resident: rng.below(RESIDENTS as u64) as usize,
        store: rng.below(STORES as u64) as usize,
        amount: 100 + rng.below(60) as i64 * 100,
        right_pin: !rng.chance(1.0 / 30.0),
    }
}

/// Sends a batch of payments as the payment writer would, once or, with faults, as often as
/// the fault needs; returns the answers the clients finally see, one per payment.
async fn deliver_payments(
    state: &AppState,
    sessions: &[String],
    stores: &[i64],
    batch: &[Op],
    first: u64,
    fault: Fault,
) -> Result<Vec<Answer>> {
    let mut jobs = Vec::with_capacity(batch.len() + 1);
    for (k, op) in batch.iter().enumerate() {
        let Op::Pay {
            resident,
            store,
            amount,
            right_pin,
        } = *op
        else {
            return fail(format!("{op:?} in a batch of payments"));
        };
        let body = serde_json::json!({"store_id": stores[store], "amount": amount});
        let key = format!("sim-{}", first + k as u64);
        jobs.push(PaymentJob {
            session: sessions[resident].clone(),
            key: RequestKey::new(Some(&key), "POST /api/v1/payments", &body)?,
            store_id: stores[store],
            amount: Yen(amount),
            use_points: false,
            pin: if right_pin { seed::PIN } else { "0000" }.to_string(),
        });
    }
    match fault {
        Fault::None => run_payments(state, &jobs, false).await,
        Fault::FailsAtCommit => {
            run_payments(state, &jobs, true).await?;
            run_payments(state, &jobs, false).await
        }
        Fault::ResponseLost => {
            let lost = run_payments(state, &jobs, false).await?;
            let again = run_payments(state, &jobs, false).await?;
            if lost != again {
                return fail(format!(
                    "the retry answered {again:?}, the first time {lost:?}"
                ));
            }
            Ok(again)
        }
        Fault::Duplicate => {
            // One payment twice in the same batch, the copy right behind it.
            let twice = first as usize % jobs.len();
            let mut sent = jobs.clone();
            sent.insert(twice + 1, jobs[twice].clone());
            let mut answers = run_payments(state, &sent, false).await?;
            let copy = answers.remove(twice + 1);
            if copy != answers[twice] {
                return fail(format!(
                    "duplicate deliveries answered {:?} and {copy:?}",
                    answers[twice]
                ));
            }
            Ok(answers)
        }
    }
}

/// One transaction of payments, committed or (`fails_at_commit`) rolled back after all its
/// writes, when the answers are lost with it.
async fn run_payments(
    state: &AppState,
    jobs: &[PaymentJob],
    fails_at_commit: bool,
) -> Result<Vec<Answer>> {
    let rules = Rules {
        programme: &state.programme,
        pin_pepper: state.db.vault().pin_pepper(),
        pin_policy: state.settings.pin_policy,
        attempts: None,
        now: state.clock.now(),
    };
    let mut tx = state.db.begin().await?;
    let answers = match payment_batch::apply(&mut tx, jobs, &rules).await {
        Ok(answers) => answers,
        Err(e) => {
            tx.rollback().await?;
            // Sequential batches never race; any failure is a finding.
            return fail(format!("the batch failed: {e:?}"));
        }
    };
    if fails_at_commit {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    answers
        .into_iter()
        .map(|answer| -> Result<Answer> {
            Ok(match answer {
                Ok(Paid { response, .. }) => Answer {
                    status: response.status,
                    body: serde_json::from_str(&response.body)?,
                },
                Err(e) => Answer {
                    status: e.status.as_u16(),
                    body: serde_json::to_value(e.body())?,
                },
            })
        })
        .collect()
}

/// Sends `op` once or, with faults, as often as the fault needs; returns the answer the client
/// finally sees.
async fn deliver(
    state: &AppState,
    residents: &[i64],
    model: &Model,
    op: Op,
    key: &str,
    fault: Fault,
) -> Result<Answer> {
    let once = |fail_at_commit: bool| attempt(state, residents, model, op, key, fail_at_commit);
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
        Op::Pay { .. } => return fail("payments go through deliver_payments"),
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
            right_pin,
        } => {
            let code = answer.body["error"].as_str().unwrap_or_default();
            if model.locked[resident] {
                return expect(answer, 423, "pin_locked", "payments locked by wrong PINs");
            }
            if !right_pin {
                model.pin_failures[resident] += 1;
                if model.pin_failures[resident] >= PIN_TRIES {
                    model.locked[resident] = true;
                    return expect(answer, 423, "pin_locked", "the lock at the fifth wrong PIN");
                }
                return expect(answer, 422, "wrong_pin", "a wrong PIN");
            }
            model.pin_failures[resident] = 0;
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
                (422, false) if code == "insufficient_balance" => {}
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

/// An answer the model expects to be a refusal with this status and error code.
fn expect(answer: &Answer, status: u16, code: &str, why: &str) -> Result<()> {
    if answer.status == status && answer.body["error"] == code {
        Ok(())
    } else {
        fail(format!(
            "answered {} ({}), the model expected {status} {code}: {why}",
            answer.status, answer.body
        ))
    }
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
