//! The Midori-sized benchmark: seed a programme, start `chiiki serve`, run the scenarios and
//! print what was achieved next to the database's own ceiling.

use crate::bare;
use crate::cpu;
use crate::env::{Postgres, Result, Server, sqlite_url};
use crate::load::{self, Outcome, Plan, Stores, Target};
use crate::seed;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
}

pub struct Options {
    pub chiiki: PathBuf,
    pub residents: usize,
    pub stores: usize,
    pub seconds: f64,
    pub offer: f64,
    pub in_flight: usize,
    pub burst: usize,
    /// Also measure latency at a range of loads ([`curve`]).
    pub curve: bool,
}

pub async fn run(engine: Engine, options: &Options, pg: Option<&Postgres>) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("chiiki-bench.")
        .tempdir_in("/var/tmp")?;
    let fresh = || async {
        match (engine, pg) {
            (Engine::Postgres, Some(pg)) => pg.fresh_database().await,
            _ => Ok(sqlite_url(
                dir.path(),
                &format!("{}.db", crate::env::time_seed()),
            )),
        }
    };
    println!("\n=== {} ===", engine.name());
    println!("load average before: {}", load_average());
    let bare_url = fresh().await?;
    let bare1 = bare::ceiling(&bare_url, 1, 5.0).await?;
    let bare8 = bare::ceiling(&bare_url, 8, 5.0).await?;
    println!(
        "bare payment transaction (debit, credit, insert, commit): {bare1:.0}/s on 1 connection, {bare8:.0}/s on 8"
    );

    let url = fresh().await?;
    let keys = dir.path().join("keys.toml");
    let started = Instant::now();
    let db = seed::open(&url, &keys).await?;
    let programme = seed::programme()?;
    let balance = seed_balance(options.seconds, options.curve);
    let population =
        seed::seed(&db, &programme, options.residents, options.stores, balance).await?;
    db.close().await;
    println!(
        "seeded {} residents and {} stores in {:.1} s",
        population.residents.len(),
        population.stores.len(),
        started.elapsed().as_secs_f64()
    );

    let pin_ms = pin_verification_ms();
    println!(
        "PIN verification (keyed hash, ADR 0005): {:.1} µs of one core per payment",
        pin_ms * 1000.0
    );

    let mut server = Server::start(&options.chiiki, &url, &keys).await?;
    let target = Target {
        url: server.url.clone(),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()?,
        population: Arc::new(population),
    };
    // Warm the server's pools and caches; not reported.
    let _ = load::run(
        &target,
        &plan("warm-up", 50.0, 2.0, Stores::Spread, options),
        1,
    )
    .await;

    // PostgreSQL runs in processes of its own; SQLite inside the server's.
    let database = pg
        .filter(|_| engine == Engine::Postgres)
        .map(|pg| cpu::Processes {
            name: "postgres",
            parent: pg.postmaster_pid(),
        });
    let database = database.as_ref();
    let mut rows: Vec<Row> = Vec::new();
    let spread = measured(
        &server,
        database,
        &target,
        &plan(
            "spread, saturated",
            options.offer,
            options.seconds,
            Stores::Spread,
            options,
        ),
        2,
    )
    .await;
    let max = spread.outcome.payments_per_second();
    rows.push(spread);
    let one = measured(
        &server,
        database,
        &target,
        &plan(
            "one store, saturated",
            options.offer,
            options.seconds,
            Stores::One,
            options,
        ),
        3,
    )
    .await;
    rows.push(one);
    let mut p = spread_at("spread, half of max", max, 0.5, options);
    rows.push(measured(&server, database, &target, &p, 4).await);
    p.name = "spread + 2% refunds, half".into();
    p.refunds = 0.02;
    rows.push(measured(&server, database, &target, &p, 5).await);
    p.name = format!("spread + sale burst of {}, half", options.burst);
    p.refunds = 0.0;
    p.burst_orders = options.burst;
    rows.push(measured(&server, database, &target, &p, 6).await);
    p.name = "spread, half, killed after 3 s".into();
    p.burst_orders = 0;
    let wal = (engine == Engine::Sqlite)
        .then(|| PathBuf::from(format!("{}-wal", chiiki_backend::db::sqlite_path(&url))));
    let recovery = back_after_kill(&mut server, &target, &p, wal.as_deref()).await?;

    print_scenarios(&rows, bare1, bare8);

    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let spread = &rows[0].outcome;
    let one = &rows[1].outcome;
    let base = &rows[2].outcome;
    let burst = &rows[4].outcome;
    let (ceiling, what) = match engine {
        Engine::Sqlite => (bare1, "bare 1-connection ceiling"),
        Engine::Postgres => (bare8, "bare 8-connection ceiling"),
    };
    println!("targets ({}):", engine.name());
    println!(
        "  payments/s {:.0} ≥ {what} {ceiling:.0}: {} ({:.0} %)",
        spread.payments_per_second(),
        verdict(spread.payments_per_second() >= ceiling),
        100.0 * spread.payments_per_second() / ceiling
    );
    println!(
        "  one store {:.0} ≥ 0.9 × spread {:.0}: {} ({:.2}×)",
        one.payments_per_second(),
        spread.payments_per_second(),
        verdict(one.payments_per_second() >= 0.9 * spread.payments_per_second()),
        one.payments_per_second() / spread.payments_per_second().max(1.0)
    );
    println!(
        "  p99 at half of max {:.1} ms ≤ {} ms: {}",
        base.payments.ms(0.99),
        load::SLOW.as_millis(),
        verdict(within_p99_target(&base.payments))
    );
    println!(
        "  p99 during the sale burst {:.1} ms ≤ 2 × {:.1} ms: {}",
        burst.payments.ms(0.99),
        base.payments.ms(0.99),
        verdict(burst.payments.ms(0.99) <= 2.0 * base.payments.ms(0.99))
    );
    let peak = rows.iter().filter_map(|r| r.rss).fold(0.0f64, f64::max);
    println!(
        "  peak RSS {peak:.0} MB ≤ 200 MB: {}",
        verdict(peak <= 200.0)
    );
    recovery.print(engine);
    if options.curve {
        curve(&server, database, &target, max, (bare1, bare8), options).await;
    }
    drop(server);
    Ok(())
}

/// Shares of the maximum the latency curve is measured at.
const CURVE: [f64; 5] = [0.1, 0.2, 0.3, 0.4, 0.5];

/// Payments spread over stores at [`CURVE`]'s shares of `max`, lightest first, each a
/// scenario of its own on the running server: p99 against load, and the CPU a request costs
/// as batches grow.
async fn curve(
    server: &Server,
    database: Option<&cpu::Processes>,
    target: &Target,
    max: f64,
    (bare1, bare8): (f64, f64),
    options: &Options,
) {
    let mut rows = Vec::with_capacity(CURVE.len());
    for (i, share) in CURVE.iter().enumerate() {
        let name = format!("spread, {:.0} % of max", share * 100.0);
        let p = spread_at(&name, max, *share, options);
        rows.push(measured(server, database, target, &p, 10 + i as u64).await);
    }
    println!("latency by load (payments spread over stores; the maximum {max:.0}/s):");
    print_scenarios(&rows, bare1, bare8);
    let within: Vec<String> = CURVE
        .iter()
        .zip(&rows)
        .filter(|(_, row)| within_p99_target(&row.outcome.payments))
        .map(|(share, _)| format!("{:.0} %", share * 100.0))
        .collect();
    println!(
        "  p99 ≤ {} ms at: {}",
        load::SLOW.as_millis(),
        if within.is_empty() {
            "none".to_string()
        } else {
            within.join(", ")
        }
    );
}

/// The scenarios' table (latency, throughput against the bare ceilings, shed, RSS, errors),
/// then the CPU they took and their slow payments by second.
fn print_scenarios(rows: &[Row], bare1: f64, bare8: f64) {
    println!(
        "{:<34} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9} {:>6} {:>9} {:>8}",
        "scenario",
        "offered/s",
        "payments/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "×bare(1/8)",
        "shed",
        "peak RSS",
        "errors"
    );
    for Row {
        outcome: o, rss, ..
    } in rows
    {
        println!(
            "{:<34} {:>9.0} {:>10.0} {:>8.1} {:>8.1} {:>8.1} {:>4.2}/{:<4.2} {:>6} {:>7.0}MB {}",
            o.name,
            o.offered,
            o.payments_per_second(),
            o.payments.ms(0.5),
            o.payments.ms(0.99),
            o.payments.ms(0.999),
            o.payments_per_second() / bare1,
            o.payments_per_second() / bare8,
            o.shed,
            rss.unwrap_or(f64::NAN),
            o.payments.describe_errors(),
        );
        if o.refunds.ok + o.refunds.error_count() > 0 {
            println!(
                "    refunds: {} ok, p50 {:.1} ms, p99 {:.1} ms, errors {}",
                o.refunds.ok,
                o.refunds.ms(0.5),
                o.refunds.ms(0.99),
                o.refunds.describe_errors()
            );
        }
        if o.orders.ok + o.orders.error_count() > 0 {
            println!(
                "    sale orders: {} created, p50 {:.1} ms, p99 {:.1} ms, other answers {}",
                o.orders.ok,
                o.orders.ms(0.5),
                o.orders.ms(0.99),
                o.orders.describe_errors()
            );
        }
    }

    print_cpu(rows);
    print_slow_seconds(rows);
}

/// One scenario's results, the server's peak RSS after it, and the CPU it took.
struct Row {
    outcome: Outcome,
    rss: Option<f64>,
    cpu: cpu::Usage,
}

async fn measured(
    server: &Server,
    database: Option<&cpu::Processes>,
    target: &Target,
    plan: &Plan,
    seed: u64,
) -> Row {
    let before = cpu::sample(server.child.id(), database);
    let outcome = load::run(target, plan, seed).await;
    let cpu = before.until(&cpu::sample(server.child.id(), database));
    Row {
        outcome,
        rss: server.peak_rss_mib(),
        cpu,
    }
}

/// CPU per request answered (payments, refunds and orders alike): the figure that says
/// whether a change made a request cheaper when the machine's speed swings from run to run.
fn print_cpu(rows: &[Row]) {
    println!(
        "{:<34} {:>11} {:>9} {:>9} {:>9} {:>7} {:>7}",
        "CPU per request answered, µs",
        "server+db",
        "server",
        "database",
        "loadgen",
        "idle %",
        "steal %"
    );
    for Row {
        outcome: o, cpu, ..
    } in rows
    {
        let per = |d: Duration| o.micros_per_request(d);
        println!(
            "{:<34} {:>11.0} {:>9.0} {:>9.0} {:>9.0} {:>7.1} {:>7.1}",
            o.name,
            per(cpu.server + cpu.database),
            per(cpu.server),
            per(cpu.database),
            per(cpu.loader),
            cpu.idle_percent,
            cpu.steal_percent
        );
    }
}

/// Payments slower than the p99 target, second by second: a tail that a single stall made
/// is one or two large numbers, a queue's is spread over the run.
fn print_slow_seconds(rows: &[Row]) {
    println!(
        "payments over {} ms, by second of the scenario:",
        load::SLOW.as_millis()
    );
    for Row { outcome: o, .. } in rows {
        let seconds: Vec<String> = o
            .payments
            .slow_by_second
            .iter()
            .map(u64::to_string)
            .collect();
        println!("  {:<32} {}", o.name, seconds.join(" "));
    }
}

/// A server killed under load and started again.
struct Recovery {
    ready: Duration,
    /// SQLite: the WAL frames (and bytes) that the kill left to be read back at the start.
    wal_frames: Option<(u64, u64)>,
    /// Payments of the run that got no answer or a failure (their clients would retry).
    failed: u64,
    answered: u64,
}

impl Recovery {
    fn print(&self, engine: Engine) {
        let wal = match self.wal_frames {
            Some((frames, bytes)) => format!(
                ", {frames} WAL frames ({:.0} MiB) to read back",
                bytes as f64 / (1024.0 * 1024.0)
            ),
            None => String::new(),
        };
        println!(
            "  back after SIGKILL at half of max ({}): ready in {:.0} ms{wal}; {} of {} payments of that run failed or went unanswered",
            engine.name(),
            self.ready.as_secs_f64() * 1000.0,
            self.failed,
            self.failed + self.answered
        );
    }
}

/// Kills the server with SIGKILL three seconds into `plan` and starts it again while the load
/// goes on: how long a till waits after a crash.
async fn back_after_kill(
    server: &mut Server,
    target: &Target,
    plan: &Plan,
    wal: Option<&Path>,
) -> Result<Recovery> {
    let crash = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        server.kill()?;
        let wal_frames = match wal {
            Some(path) => Some(crate::env::wal_frames(path)?),
            None => None,
        };
        let ready = server.restart().await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((ready, wal_frames))
    };
    let (outcome, crashed) = tokio::join!(load::run(target, plan, 7), crash);
    let (ready, wal_frames) = crashed?;
    Ok(Recovery {
        ready,
        wal_frames,
        failed: outcome.payments.error_count(),
        answered: outcome.payments.ok,
    })
}

/// Payments spread over stores at `share` of the maximum `max`. Below saturation a client
/// slot is almost never the limit: 1,024 in flight, so that a stall of the server queues
/// arrivals (and shows in the latency) instead of shedding them.
fn spread_at(name: &str, max: f64, share: f64, options: &Options) -> Plan {
    let mut p = plan(
        name,
        (max * share).max(1.0),
        options.seconds,
        Stores::Spread,
        options,
    );
    p.max_in_flight = 1024;
    p
}

/// The p99 target: [`load::SLOW`], the same bound the slow payments by second are counted
/// against.
fn within_p99_target(payments: &load::Series) -> bool {
    payments.ms(0.99) <= load::SLOW.as_secs_f64() * 1000.0
}

fn plan(name: &str, rate: f64, seconds: f64, stores: Stores, options: &Options) -> Plan {
    Plan {
        name: name.into(),
        rate,
        seconds,
        stores,
        refunds: 0.0,
        burst_orders: 0,
        max_in_flight: options.in_flight,
    }
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// What one payment's PIN check costs in CPU, timed here.
fn pin_verification_ms() -> f64 {
    use chiiki_backend::crypto;
    let pepper = [7u8; 32];
    let Ok(stored) = crypto::hash_pin(seed::PIN, &pepper) else {
        return f64::NAN;
    };
    let rounds = 10_000;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(crypto::verify_pin(seed::PIN, &pepper, &stored));
    }
    started.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds)
}

/// Yen charged to each seeded resident: ¥50,000 for 10-s scenarios, more for longer ones. A
/// run pays about 0.9 payments of ¥1,550 on average per resident for every second of a
/// scenario, some residents several times that; 30-s scenarios on ¥50,000 ran residents dry
/// and turned thousands of payments into `insufficient_balance` refusals, a different load.
/// The latency curve pays about as much again as the other scenarios.
fn seed_balance(seconds: f64, curve: bool) -> i64 {
    let tens = (seconds / 10.0).ceil().max(1.0) as i64;
    let rounds = if curve { 2 } else { 1 };
    50_000 * tens * rounds
}
