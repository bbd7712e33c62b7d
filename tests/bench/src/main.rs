//! `chiiki-bench`: the load benchmark (issue 7), the crash-safety harness and the seeded
//! ledger simulation. See README.md ("Load, crash safety and simulation") for the commands.

mod bare;
mod bench;
mod cpu;
mod crash;
mod env;
mod load;
mod seed;
mod sim;

use bench::Engine;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "chiiki-bench",
    about = "Benchmark, crash harness and simulation for chiiki"
)]
struct Cli {
    /// The benchmark on both SQLite and PostgreSQL.
    #[arg(long)]
    all: bool,
    /// Only SQLite (for the benchmark, the crash harness and the simulation).
    #[arg(long)]
    sqlite: bool,
    /// Only PostgreSQL.
    #[arg(long)]
    postgres: bool,
    /// Run the crash-safety harness instead of the benchmark.
    #[arg(long)]
    crash: bool,
    /// Run the seeded ledger simulation instead of the benchmark.
    #[arg(long)]
    sim: bool,
    /// Longer runs: 300 kills per database, 10^6 simulated operations.
    #[arg(long, env = "CHIIKI_BENCH_LONG")]
    long: bool,
    /// The chiiki binary (default: next to this program). The database is made and seeded by
    /// this program's own build of the server's code, so comparing a change to the schema or
    /// to how databases are made needs this program built from it too.
    #[arg(long)]
    chiiki: Option<PathBuf>,
    #[arg(long, default_value_t = 30_000)]
    residents: usize,
    #[arg(long, default_value_t = 400)]
    stores: usize,
    /// Seconds per benchmark scenario (each seeded resident holds ¥50,000 per ten seconds, so
    /// that longer runs do not run out of money).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Offered payments per second in the saturation scenarios: more than the server takes,
    /// so that the figure is its maximum (arrivals that find every client slot busy are shed).
    #[arg(long, default_value_t = 10000.0)]
    offer: f64,
    /// Client requests in flight at most in the saturation scenarios: a town's phones, many
    /// at once, so that the server's own limit shows and not the client's.
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// Sale orders in the burst scenario.
    #[arg(long, default_value_t = 5000)]
    burst: usize,
    /// After the scenarios, payments spread at 10, 20, 30, 40 and 50 % of the maximum: how
    /// latency grows with load, and up to what rate p99 stays within 20 ms.
    #[arg(long)]
    curve: bool,
    /// SIGKILLs per database in the crash harness.
    #[arg(long)]
    kills: Option<usize>,
    /// Operations in the simulation.
    #[arg(long)]
    ops: Option<u64>,
    /// The simulation's seed (printed by a failing run, for replay).
    #[arg(long)]
    seed: Option<u64>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chiiki-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> env::Result<()> {
    let engines: Vec<Engine> = match (cli.sqlite, cli.postgres) {
        (true, false) => vec![Engine::Sqlite],
        (false, true) => vec![Engine::Postgres],
        _ => vec![Engine::Sqlite, Engine::Postgres],
    };
    let pg = if engines.contains(&Engine::Postgres) {
        Some(env::Postgres::get()?)
    } else {
        None
    };
    let outcome = run_on(cli, engines, pg.as_ref()).await;
    if let Some(pg) = &pg {
        pg.finish(outcome.is_ok()).await;
    }
    outcome
}

async fn run_on(cli: Cli, engines: Vec<Engine>, pg: Option<&env::Postgres>) -> env::Result<()> {
    if cli.sim {
        let ops = cli
            .ops
            .unwrap_or(if cli.long { 1_000_000 } else { 100_000 });
        for engine in &engines {
            sim::run(*engine, ops, cli.seed, pg).await?;
        }
        return Ok(());
    }
    let chiiki = env::chiiki_binary(cli.chiiki.as_deref())?;
    if cli.crash {
        let kills = cli.kills.unwrap_or(if cli.long { 300 } else { 30 });
        for engine in &engines {
            crash::run(*engine, &chiiki, kills, cli.seed, pg).await?;
        }
        return Ok(());
    }
    let _ = cli.all;
    let options = bench::Options {
        chiiki,
        residents: cli.residents,
        stores: cli.stores,
        seconds: cli.seconds,
        offer: cli.offer,
        in_flight: cli.in_flight,
        burst: cli.burst,
        curve: cli.curve,
    };
    println!(
        "chiiki-bench: {} residents, {} stores, {} s per scenario, on {} ({} cores)",
        options.residents,
        options.stores,
        options.seconds,
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap_or_default()
            .trim(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    for engine in engines {
        bench::run(engine, &options, pg).await?;
    }
    Ok(())
}
