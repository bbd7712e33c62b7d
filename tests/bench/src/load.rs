//! The open-loop load generator: arrivals are a Poisson process at the offered rate, each
//! request's latency is measured from the moment it was due (so queueing shows), and a request
//! that finds every client slot busy is shed and counted, never delayed into a closed loop.

use crate::env::Rng;
use crate::seed::{PIN, Population};
use hdrhistogram::Histogram;
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stores {
    Spread,
    One,
}

pub struct Plan {
    pub name: String,
    /// Offered payments per second.
    pub rate: f64,
    pub seconds: f64,
    pub stores: Stores,
    /// Share of arrivals that are refunds (by the store's staff) of an earlier payment.
    pub refunds: f64,
    /// Additional-sale orders fired during the middle half of the run.
    pub burst_orders: usize,
    pub max_in_flight: usize,
}

/// One kind of request's results.
pub struct Series {
    pub ok: u64,
    /// Answers other than success, by status (0: no answer at all) and the API's error code
    /// (empty when the body had none).
    pub errors: BTreeMap<(u16, String), u64>,
    pub latency_us: Histogram<u64>,
    /// Requests slower than [`SLOW`], by the second of the run they were due in (every second
    /// listed, the quiet ones too): whether a tail is a steady queue or one stall shows here.
    pub slow_by_second: Vec<u64>,
}

/// The p99 target: a payment slower than this counts in [`Series::slow_by_second`].
pub const SLOW: Duration = Duration::from_millis(20);

impl Series {
    fn new(seconds: usize) -> Series {
        Series {
            ok: 0,
            errors: BTreeMap::new(),
            // Constant, valid bounds: 1 µs to 10 minutes, 3 significant digits.
            latency_us: Histogram::new_with_bounds(1, 600_000_000, 3)
                .expect("valid histogram bounds"),
            slow_by_second: vec![0; seconds],
        }
    }

    fn record(&mut self, answer: &Answer, ok: StatusCode, latency: Duration, second: usize) {
        let us = (latency.as_micros() as u64).clamp(1, 600_000_000);
        let _ = self.latency_us.record(us);
        if latency > SLOW
            && let Some(slow) = self.slow_by_second.get_mut(second)
        {
            *slow += 1;
        }
        match answer {
            Some((s, _)) if *s == ok => self.ok += 1,
            Some((s, body)) => {
                *self
                    .errors
                    .entry((s.as_u16(), error_code(body.as_ref())))
                    .or_default() += 1
            }
            None => *self.errors.entry((0, String::new())).or_default() += 1,
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn describe_errors(&self) -> String {
        if self.errors.is_empty() {
            return "0".into();
        }
        describe(&self.errors)
    }
}

/// The API's error code in an error body (`{"error": code, …}`), empty when there is none.
pub fn error_code(body: Option<&serde_json::Value>) -> String {
    body.and_then(|b| b["error"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Answers counted by status (0: no answer at all) and error code, as `n×status code`.
pub fn describe(counts: &BTreeMap<(u16, String), u64>) -> String {
    let parts: Vec<String> = counts
        .iter()
        .map(|((s, code), n)| match (*s, code.as_str()) {
            (0, _) => format!("{n}×no-answer"),
            (s, "") => format!("{n}×{s}"),
            (s, code) => format!("{n}×{s} {code}"),
        })
        .collect();
    parts.join(" ")
}

/// What came back: the status and the body, if JSON; `None` when no answer came.
type Answer = Option<(StatusCode, Option<serde_json::Value>)>;

async fn answer(response: reqwest::Result<reqwest::Response>) -> Answer {
    let response = response.ok()?;
    let status = response.status();
    Some((status, response.json().await.ok()))
}

pub struct Outcome {
    pub name: String,
    pub offered: f64,
    pub seconds: f64,
    pub payments: Series,
    pub refunds: Series,
    pub orders: Series,
    pub shed: u64,
}

impl Outcome {
    pub fn payments_per_second(&self) -> f64 {
        self.payments.ok as f64 / self.seconds
    }

    /// `cpu` spread over the requests answered (payments, refunds and orders alike), in µs.
    pub fn micros_per_request(&self, cpu: Duration) -> f64 {
        let answered = [&self.payments, &self.refunds, &self.orders]
            .iter()
            .map(|s| s.ok + s.error_count())
            .sum::<u64>()
            .max(1);
        cpu.as_secs_f64() * 1e6 / answered as f64
    }
}

struct Shared {
    payments: Series,
    refunds: Series,
    orders: Series,
    /// Recent accepted payments not yet refunded (id, store index), for refunds.
    recent: Vec<(i64, usize)>,
}

pub struct Target {
    pub url: String,
    pub client: reqwest::Client,
    pub population: Arc<Population>,
}

fn address(resident_id: i64) -> String {
    format!(
        "10.{}.{}.{}",
        (resident_id >> 16) & 255,
        (resident_id >> 8) & 255,
        resident_id & 255
    )
}

pub async fn run(target: &Target, plan: &Plan, seed: u64) -> Outcome {
    // Progress, on standard error so the results stay a table on standard output; the UTC
    // time lines a scenario up with the server's and the database's logs.
    eprintln!(
        "  {} UTC {}: {:.0}/s offered for {} s",
        chrono::Utc::now().format("%H:%M:%S%.3f"),
        plan.name,
        plan.rate,
        plan.seconds
    );
    // Arrivals are due before the end, so within these seconds.
    let seconds = plan.seconds.ceil() as usize;
    let shared = Arc::new(Mutex::new(Shared {
        payments: Series::new(seconds),
        refunds: Series::new(seconds),
        orders: Series::new(seconds),
        recent: Vec::new(),
    }));
    let slots = Arc::new(Semaphore::new(plan.max_in_flight));
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(plan.seconds);
    let burst = (plan.burst_orders > 0).then(|| {
        tokio::spawn(order_burst(
            target.url.clone(),
            target.client.clone(),
            target.population.clone(),
            shared.clone(),
            plan.burst_orders,
            start,
            plan.seconds,
        ))
    });
    let one_store = rng.below(target.population.stores.len() as u64) as usize;
    let mut due = start;
    let mut shed = 0u64;
    let mut counter = 0u64;
    loop {
        due += Duration::from_secs_f64(rng.exp(1.0 / plan.rate));
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due).await;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            shed += 1;
            continue;
        };
        counter += 1;
        let second = (due - start).as_secs() as usize;
        let key = format!("bench-{seed:x}-{counter}");
        let refund = if plan.refunds > 0.0 && rng.chance(plan.refunds) {
            // Taken out of the list: a payment refunded twice might exceed what was paid,
            // and the server's refusal would count as an error here.
            shared.lock().ok().and_then(|mut s| {
                let n = s.recent.len() as u64;
                (n > 0).then(|| s.recent.swap_remove(rng.below(n) as usize))
            })
        } else {
            None
        };
        let population = target.population.clone();
        let client = target.client.clone();
        let url = target.url.clone();
        let shared = shared.clone();
        if let Some((payment_id, store)) = refund {
            tokio::spawn(async move {
                let token = &population.stores[store].token;
                let response = client
                    .post(format!("{url}/api/v1/payments/{payment_id}/refunds"))
                    .bearer_auth(token)
                    .header("Idempotency-Key", key)
                    .json(&serde_json::json!({"amount": 100, "reason": "ベンチマークの返金"}))
                    .send()
                    .await;
                let latency = due.elapsed();
                let answer = answer(response).await;
                if let Ok(mut s) = shared.lock() {
                    s.refunds
                        .record(&answer, StatusCode::CREATED, latency, second);
                }
                drop(permit);
            });
            continue;
        }
        let resident = rng.below(population.residents.len() as u64) as usize;
        let store = match plan.stores {
            Stores::Spread => rng.below(population.stores.len() as u64) as usize,
            Stores::One => one_store,
        };
        let amount = 100 + rng.below(30) as i64 * 100;
        tokio::spawn(async move {
            let r = &population.residents[resident];
            let response = client
                .post(format!("{url}/api/v1/payments"))
                .bearer_auth(&r.token)
                .header("Idempotency-Key", key)
                .header("X-Forwarded-For", address(r.id))
                .json(&serde_json::json!({
                    "store_id": population.stores[store].id,
                    "amount": amount,
                    "pin": PIN,
                }))
                .send()
                .await;
            let answer = answer(response).await;
            let latency = due.elapsed();
            let payment_id = answer
                .as_ref()
                .and_then(|(_, body)| body.as_ref()?["payment_id"].as_i64());
            if let Ok(mut s) = shared.lock() {
                s.payments
                    .record(&answer, StatusCode::CREATED, latency, second);
                if let Some(id) = payment_id {
                    if s.recent.len() >= 4096 {
                        let i = (id as usize) % 4096;
                        s.recent[i] = (id, store);
                    } else {
                        s.recent.push((id, store));
                    }
                }
            }
            drop(permit);
        });
    }
    // Wait for what is in flight.
    let _all = slots.acquire_many(plan.max_in_flight as u32).await;
    if let Some(task) = burst {
        let _ = task.await;
    }
    let elapsed = start.elapsed().as_secs_f64().max(plan.seconds);
    let shared = match Arc::try_unwrap(shared) {
        Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
        Err(arc) => {
            let mut s = arc.lock().unwrap_or_else(|e| e.into_inner());
            Shared {
                payments: std::mem::replace(&mut s.payments, Series::new(0)),
                refunds: std::mem::replace(&mut s.refunds, Series::new(0)),
                orders: std::mem::replace(&mut s.orders, Series::new(0)),
                recent: Vec::new(),
            }
        }
    };
    Outcome {
        name: plan.name.clone(),
        offered: plan.rate,
        seconds: elapsed,
        payments: shared.payments,
        refunds: shared.refunds,
        orders: shared.orders,
        shed,
    }
}

/// `count` order requests of the additional sale, one per resident, spread evenly (with
/// Poisson gaps) over the middle half of the run of `seconds` that started at `start`.
async fn order_burst(
    url: String,
    client: reqwest::Client,
    population: Arc<Population>,
    shared: Arc<Mutex<Shared>>,
    count: usize,
    start: Instant,
    seconds: f64,
) {
    let mut rng = Rng::new(0x5a1e);
    let mut due = start + Duration::from_secs_f64(seconds / 4.0);
    let mean = seconds / 2.0 / count as f64;
    let mut tasks = Vec::with_capacity(count);
    for n in 0..count.min(population.residents.len()) {
        due += Duration::from_secs_f64(rng.exp(mean));
        tokio::time::sleep_until(due).await;
        let (client, url, population, shared) = (
            client.clone(),
            url.clone(),
            population.clone(),
            shared.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = &population.residents[population.residents.len() - 1 - n];
            let response = client
                .post(format!("{url}/api/v1/sale/orders"))
                .bearer_auth(&r.token)
                .header("Idempotency-Key", format!("order-{}", r.id))
                .header("X-Forwarded-For", address(r.id))
                .json(&serde_json::json!({"sets": 1}))
                .send()
                .await;
            let latency = due.elapsed();
            let answer = answer(response).await;
            let second = (due - start).as_secs() as usize;
            if let Ok(mut s) = shared.lock() {
                s.orders
                    .record(&answer, StatusCode::CREATED, latency, second);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
