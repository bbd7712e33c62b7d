//! `chiiki`: the ledger server's command line.

use chiiki_backend::auth::{self, PinPolicy};
use chiiki_backend::clock::{Clock, SystemClock};
use chiiki_backend::crypto::HashCost;
use chiiki_backend::db::Db;
use chiiki_backend::ops::backup;
use chiiki_backend::programme::{DEFAULT_PROGRAMME_FILE, Programme};
use chiiki_backend::residents;
use chiiki_backend::sale::AdmissionLimits;
use chiiki_backend::vault::{Vault, write_private};
use chiiki_backend::{AppState, Settings, demo};
use chiiki_core::protocol::Role;
use chiiki_core::time::{format_date, jst_date};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "chiiki",
    version,
    about = "Chiiki: municipal premium digital local currency server"
)]
struct Cli {
    /// Log format.
    #[arg(
        long,
        env = "CHIIKI_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
    /// Also keep JSON logs in daily files in this directory (for `chiiki logs export`).
    #[arg(long, env = "CHIIKI_LOG_DIR", global = true)]
    log_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        #[command(flatten)]
        server: ServerArgs,
        /// The programme file (TOML).
        #[arg(long, env = "CHIIKI_PROGRAMME", default_value = DEFAULT_PROGRAMME_FILE)]
        programme: PathBuf,
        /// Move the programme's windows so that today is inside its usage window, as the demo
        /// does (for trying the system and for tests; never in production).
        #[arg(long)]
        shift_to_today: bool,
    },
    /// Take a verified online backup, keeping the newest generations.
    Backup {
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chiiki.db")]
        database_url: String,
        #[arg(long, env = "CHIIKI_BACKUP_DIR", default_value = "backups")]
        dir: PathBuf,
        #[arg(long, env = "CHIIKI_BACKUP_KEEP", default_value_t = 7)]
        keep: usize,
    },
    /// Bring a backup back (stop the server first when on SQLite).
    Restore {
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chiiki.db")]
        database_url: String,
        /// The backup file (chiiki-….db or chiiki-….pgdump).
        #[arg(long)]
        from: PathBuf,
    },
    /// Data keys for personal data at rest.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Logs the city asks for.
    Logs {
        #[command(subcommand)]
        command: LogsCommand,
    },
    /// The premium set sale: the lottery's commitment, draw and verification, and expiry.
    Sale {
        #[command(subcommand)]
        command: SaleCommand,
    },
    /// Settlement with stores: close a period and write its Zengin transfer file and
    /// statements.
    Settle {
        #[command(subcommand)]
        command: SettleCommand,
    },
    /// Community points: the expiry job.
    Points {
        #[command(subcommand)]
        command: PointsCommand,
    },
    /// Manage city staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// The staff audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Create or update the database schema, then exit.
    Migrate {
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chiiki.db")]
        database_url: String,
    },
    /// Serve Midori's programme on a fresh SQLite file with demo stores, residents and staff.
    Demo {
        #[arg(long, env = "CHIIKI_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// The demo's SQLite file; it is replaced on every start.
        #[arg(long, default_value = "data/demo.db")]
        file: PathBuf,
        /// The secret a payment provider signs sale notifications with, in the demo.
        #[arg(
            long,
            env = "CHIIKI_SALE_WEBHOOK_SECRET",
            default_value = "chiiki-demo-webhook-secret"
        )]
        sale_webhook_secret: String,
        /// Leave the lottery undrawn (to run it from the staff console).
        #[arg(long)]
        lottery_pending: bool,
    },
}

#[derive(Subcommand)]
enum SaleCommand {
    /// Publish the SHA-256 of the lottery seed (after the application window has closed).
    /// Creates the seed file with 32 random bytes if it does not exist; keep it sealed.
    Commit {
        #[command(flatten)]
        target: SaleTarget,
        #[arg(long)]
        seed_file: PathBuf,
    },
    /// Reveal the seed from the seed file and draw the lottery.
    Draw {
        #[command(flatten)]
        target: SaleTarget,
        #[arg(long)]
        seed_file: PathBuf,
    },
    /// Recompute a published draw and check every result: from a file saved from
    /// GET /api/v1/sale/draw (`--file`), or from the database (`--database-url`).
    VerifyDraw {
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, conflicts_with = "file")]
        database_url: Option<String>,
        #[arg(long, env = "CHIIKI_PROGRAMME", default_value = DEFAULT_PROGRAMME_FILE)]
        programme: PathBuf,
    },
    /// After the usage window: move what is left in the issue's premium purses to the expired
    /// account. Safe to run again.
    Expire {
        #[command(flatten)]
        target: SaleTarget,
    },
}

#[derive(Subcommand)]
enum PointsCommand {
    /// Move points whose expiry has passed to the expired account (safe to run again: what
    /// has lapsed moves once). Run it daily, e.g. just after midnight JST.
    Expire {
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chiiki.db")]
        database_url: String,
        /// Purses moved per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

#[derive(clap::Args)]
struct SaleTarget {
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chiiki.db")]
    database_url: String,
    #[arg(long, env = "CHIIKI_PROGRAMME", default_value = DEFAULT_PROGRAMME_FILE)]
    programme: PathBuf,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain: exits 1 and names every entry that was edited or
    /// removed.
    Verify {
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chiiki.db")]
        database_url: String,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create a staff account (e.g. the first administrator).
    Add {
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chiiki.db")]
        database_url: String,
        #[arg(long)]
        login: String,
        /// The password; read from CHIIKI_STAFF_PASSWORD when not given.
        #[arg(long, env = "CHIIKI_STAFF_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, value_enum)]
        role: StaffRole,
        #[arg(long, default_value = "職員")]
        display_name: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new data key, make it the active one, and re-seal all personal data under it
    /// while servers keep running (they pick up the changed key file within seconds).
    Rotate {
        #[arg(long, env = "CHIIKI_KEYS_FILE", default_value = "data/keys.toml")]
        keys_file: PathBuf,
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chiiki.db")]
        database_url: String,
        /// How long to wait for running servers to pick up the new key before the last pass.
        #[arg(long, default_value_t = 15)]
        settle_seconds: u64,
    },
}

#[derive(Subcommand)]
enum LogsCommand {
    /// Print the log lines of one kind between two JST dates (inclusive) as JSON lines.
    Export {
        /// Where `serve --log-dir` kept the logs.
        #[arg(long = "from-dir", env = "CHIIKI_LOG_DIR")]
        dir: PathBuf,
        #[arg(long, value_enum)]
        kind: ExportKind,
        /// First day, e.g. 2024-11-01.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day, e.g. 2024-11-30.
        #[arg(long)]
        to: chrono::NaiveDate,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportKind {
    Access,
    Operation,
    Change,
    Failure,
}

#[derive(Clone, Copy, ValueEnum)]
enum StaffRole {
    Administrator,
    Operator,
    Viewer,
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "CHIIKI_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// sqlite://path or postgres://user@host/db
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chiiki.db")]
    database_url: String,
    /// Wrong PINs in a row that lock payments.
    #[arg(long, env = "CHIIKI_PIN_MAX_FAILURES", default_value_t = 5)]
    pin_max_failures: i64,
    /// How long payments stay locked after too many wrong PINs.
    #[arg(long, env = "CHIIKI_PIN_LOCK_MINUTES", default_value_t = 30)]
    pin_lock_minutes: i64,
    /// On SIGTERM, answer /readyz with 503 for this long before stopping, so a load balancer
    /// can take the instance out first.
    #[arg(long, env = "CHIIKI_DRAIN_SECONDS", default_value_t = 5)]
    drain_seconds: u64,
    /// Take a verified backup every day at this JST time (HH:MM) into --backup-dir.
    #[arg(long, env = "CHIIKI_BACKUP_DAILY_AT")]
    backup_daily_at: Option<chrono::NaiveTime>,
    #[arg(long, env = "CHIIKI_BACKUP_DIR", default_value = "backups")]
    backup_dir: PathBuf,
    #[arg(long, env = "CHIIKI_BACKUP_KEEP", default_value_t = 7)]
    backup_keep: usize,
    /// The data key file (personal data is sealed with its keys). Created on first start if it
    /// does not exist; keep it outside the database's backups.
    #[arg(long, env = "CHIIKI_KEYS_FILE", default_value = "data/keys.toml")]
    keys_file: PathBuf,
    /// Take client addresses from X-Forwarded-For (only behind a trusted reverse proxy).
    #[arg(long, env = "CHIIKI_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "CHIIKI_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, env = "CHIIKI_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Send HSTS even without --tls-cert (when a reverse proxy terminates TLS).
    #[arg(long, env = "CHIIKI_HSTS")]
    hsts: bool,
    /// The payment provider's webhook secret (HMAC-SHA256); without it notifications are
    /// refused.
    #[arg(long, env = "CHIIKI_SALE_WEBHOOK_SECRET", hide_env_values = true)]
    sale_webhook_secret: Option<String>,
    /// Sale requests served at once; more wait in a short queue or get 503 + Retry-After.
    #[arg(long, env = "CHIIKI_SALE_IN_FLIGHT", default_value_t = AdmissionLimits::default().in_flight)]
    sale_in_flight: usize,
    /// Sale requests that may wait for a place.
    #[arg(long, env = "CHIIKI_SALE_QUEUE", default_value_t = AdmissionLimits::default().queue)]
    sale_queue: usize,
    /// Run expiry every day at 04:00 JST (it acts only after the usage window has ended).
    #[arg(long, env = "CHIIKI_SALE_EXPIRE_DAILY")]
    sale_expire_daily: bool,
    /// Move lapsed community points to the expired account every day at midnight JST (and
    /// once at start); the same as `chiiki points expire`, in the server.
    #[arg(long, env = "CHIIKI_POINTS_EXPIRE_DAILY")]
    points_expire_daily: bool,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Programme(#[from] chiiki_backend::programme::ProgrammeError),
    #[error(transparent)]
    Db(#[from] chiiki_backend::db::DbError),
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    #[error(transparent)]
    Sale(#[from] chiiki_backend::sale::SaleError),
    #[error(transparent)]
    Backup(#[from] backup::BackupError),
    #[error(transparent)]
    Vault(#[from] chiiki_backend::vault::VaultError),
    #[error(transparent)]
    Settlement(#[from] chiiki_backend::settlement::SettlementError),
    #[error(transparent)]
    Pdf(#[from] chiiki_backend::pdf::PdfError),
    #[error(transparent)]
    Points(#[from] chiiki_backend::points::PointsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
}

/// Words for the person at the terminal (not logs).
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let _log_guard = chiiki_backend::ops::logs::init(
        matches!(cli.log_format, LogFormat::Json),
        cli.log_dir.as_deref(),
    );
    match run(cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "chiiki stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Serve {
            server,
            programme,
            shift_to_today,
        } => {
            let mut programme = load_programme(&programme)?;
            if shift_to_today {
                programme = demo::shifted_programme(&programme, jst_date(SystemClock.now()));
                tracing::warn!(usage_first_day = %programme.usage.first_day, "programme windows moved to today");
            }
            let settings = settings(&server)?;
            let vault = open_or_create_keys(&server.keys_file)?;
            let db = Db::connect_for_serving(&server.database_url)
                .await?
                .with_vault(vault);
            db.migrate().await?;
            db.check_vault().await?;
            let drain = std::time::Duration::from_secs(server.drain_seconds);
            if let Some(at) = server.backup_daily_at {
                let schedule = backup::Schedule {
                    at,
                    dir: server.backup_dir.clone(),
                    keep: server.backup_keep,
                };
                tokio::spawn(backup::run_daily(
                    db.clone(),
                    server.database_url.clone(),
                    schedule,
                ));
            }
            let tls = server.tls_cert.clone().zip(server.tls_key.clone());
            let sale = sale_runtime(&server);
            if server.sale_expire_daily {
                tokio::spawn(chiiki_backend::sale::expiry::run_daily(
                    db.clone(),
                    Arc::new(programme.clone()),
                    Arc::new(SystemClock),
                    4,
                ));
            }
            if server.points_expire_daily {
                tokio::spawn(chiiki_backend::points::claims::run_daily(
                    db.clone(),
                    Arc::new(SystemClock),
                    0,
                ));
            }
            serve(&server.listen, db, programme, settings, drain, tls, sale).await
        }
        Command::Staff {
            command:
                StaffCommand::Add {
                    database_url,
                    login,
                    password,
                    role,
                    display_name,
                },
        } => {
            let db = Db::connect(&database_url).await?;
            db.migrate().await?;
            let role = match role {
                StaffRole::Administrator => Role::Administrator,
                StaffRole::Operator => Role::Operator,
                StaffRole::Viewer => Role::Viewer,
            };
            let now = SystemClock.now();
            auth::create_staff(
                &db,
                &login,
                &password,
                &display_name,
                role,
                HashCost::default(),
                now,
            )
            .await
            .map_err(|e| CliError::Usage(e.to_string()))?;
            say(&format!("staff account {login} created"));
            Ok(())
        }
        Command::Keys {
            command:
                KeysCommand::Rotate {
                    keys_file,
                    database_url,
                    settle_seconds,
                },
        } => {
            let old = Db::connect(&database_url)
                .await?
                .with_vault(Arc::new(Vault::from_file(&keys_file)?));
            old.check_vault().await?;
            old.close().await;
            let id = Vault::rotate_file(&keys_file, SystemClock.now())?;
            let db = Db::connect(&database_url)
                .await?
                .with_vault(Arc::new(Vault::from_file(&keys_file)?));
            let mut resealed = residents::reseal_all(&db)
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?;
            // Servers sealed with the old key until they noticed the new file: one more pass.
            tokio::time::sleep(std::time::Duration::from_secs(settle_seconds)).await;
            resealed += residents::reseal_all(&db)
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?;
            tracing::info!(target: "chiiki::change", key = %id, resealed, "data keys rotated");
            say(&format!(
                "active key is now {id}; {resealed} values re-sealed"
            ));
            Ok(())
        }
        Command::Backup {
            database_url,
            dir,
            keep,
        } => {
            let db = Db::connect(&database_url).await?;
            let taken = backup::backup(&db, &database_url, &dir, keep, SystemClock.now()).await?;
            say(&format!(
                "backup {} ({} bytes) verified; {} older removed",
                taken.path.display(),
                taken.bytes,
                taken.removed.len()
            ));
            Ok(())
        }
        Command::Restore { database_url, from } => {
            backup::restore(&from, &database_url).await?;
            say(&format!("restored {}", from.display()));
            Ok(())
        }
        Command::Logs {
            command:
                LogsCommand::Export {
                    dir,
                    kind,
                    from,
                    to,
                },
        } => {
            use chiiki_backend::ops::logs::{LogKind, export};
            let kind = match kind {
                ExportKind::Access => LogKind::Access,
                ExportKind::Operation => LogKind::Operation,
                ExportKind::Change => LogKind::Change,
                ExportKind::Failure => LogKind::Failure,
            };
            let mut out = std::io::stdout().lock();
            let n = export(&dir, kind, from, to, &mut out)?;
            tracing::info!(lines = n, "logs exported");
            Ok(())
        }
        Command::Sale { command } => sale(command).await,
        Command::Settle { command } => settle(command).await,
        Command::Points {
            command:
                PointsCommand::Expire {
                    database_url,
                    batch,
                },
        } => {
            let db = Db::connect(&database_url).await?;
            db.migrate().await?;
            let done =
                chiiki_backend::points::claims::expire(&db, "staff:cli", batch, SystemClock.now())
                    .await?;
            say(&format!(
                "points expired: {} purses, {} pt",
                done.purses,
                done.amount.get()
            ));
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { database_url },
        } => {
            let db = Db::connect(&database_url).await?;
            let verified = chiiki_backend::audit::verify(&db)
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?;
            if verified.problems.is_empty() {
                say(&format!(
                    "audit log intact: {} entries, every hash and link checks out",
                    verified.entries
                ));
                return Ok(());
            }
            for problem in &verified.problems {
                say(&format!("TAMPERED: {problem}"));
            }
            Err(CliError::Usage(format!(
                "the audit log has been altered ({} problems in {} entries)",
                verified.problems.len(),
                verified.entries
            )))
        }
        Command::Migrate { database_url } => {
            let db = Db::connect(&database_url).await?;
            db.migrate().await?;
            say("migrations applied");
            Ok(())
        }
        Command::Demo {
            listen,
            file,
            sale_webhook_secret,
            lottery_pending,
        } => {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = file.clone().into_os_string();
                path.push(suffix);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
            }
            let url = format!("sqlite://{}", file.display());
            let keys = file.with_extension("keys.toml");
            let _ = std::fs::remove_file(&keys);
            let db = Db::connect_for_serving(&url)
                .await?
                .with_vault(open_or_create_keys(&keys)?);
            db.migrate().await?;
            db.check_vault().await?;
            let clock = SystemClock;
            let now = clock.now();
            let programme = demo::shifted_programme(&Programme::midori_2024()?, jst_date(now));
            let settings = Settings::default();
            demo::seed_demo(&db, &programme, settings.hash_cost, now, !lottery_pending).await?;
            print_demo(&listen, &programme);
            serve(
                &listen,
                db,
                programme,
                settings,
                std::time::Duration::ZERO,
                None,
                chiiki_backend::sale::SaleRuntime::new(chiiki_backend::sale::SaleSettings {
                    webhook_secret: Some(sale_webhook_secret),
                    ..chiiki_backend::sale::SaleSettings::default()
                }),
            )
            .await
        }
    }
}

/// The data keys from `path`, creating a fresh key file there on first start.
fn open_or_create_keys(path: &std::path::Path) -> Result<Arc<Vault>, CliError> {
    if !path.exists() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        write_private(
            path,
            &Vault::generate_toml(&format!("k{}", SystemClock.now().format("%Y%m%d%H%M")))?,
        )?;
        tracing::warn!(path = %path.display(), "created a new data key file: back it up separately from the database");
    } else if Vault::ensure_event_key(path)? {
        tracing::warn!(path = %path.display(), "added the city's event-signing key (community points) to the key file");
    }
    Ok(Arc::new(Vault::from_file(path)?))
}

fn load_programme(path: &std::path::Path) -> Result<Programme, CliError> {
    // The default file ships in the repository; outside it, fall back to the compiled-in copy.
    if path.as_os_str() == DEFAULT_PROGRAMME_FILE && !path.exists() {
        return Ok(Programme::midori_2024()?);
    }
    Ok(Programme::load(path)?)
}

fn settings(args: &ServerArgs) -> Result<Settings, CliError> {
    if args.pin_max_failures < 1 || args.pin_lock_minutes < 1 {
        return Err(CliError::Usage(
            "PIN failures and lock minutes must be at least 1".into(),
        ));
    }
    Ok(Settings {
        hash_cost: HashCost::default(),
        pin_policy: PinPolicy {
            max_failures: args.pin_max_failures,
            lock_for: chrono::Duration::minutes(args.pin_lock_minutes),
        },
        trust_forwarded_for: args.trust_forwarded_for,
        hsts: args.hsts || args.tls_cert.is_some(),
    })
}

fn sale_runtime(args: &ServerArgs) -> chiiki_backend::sale::SaleRuntime {
    use chiiki_backend::sale::{SaleRuntime, SaleSettings};
    if args.sale_webhook_secret.is_none() {
        tracing::warn!("no CHIIKI_SALE_WEBHOOK_SECRET: payment provider notifications are refused");
    }
    SaleRuntime::new(SaleSettings {
        webhook_secret: args.sale_webhook_secret.clone(),
        admission: AdmissionLimits {
            in_flight: args.sale_in_flight,
            queue: args.sale_queue,
            ..AdmissionLimits::default()
        },
    })
}

/// `chiiki sale …`: the lottery and expiry, run by staff at the terminal.
async fn sale(command: SaleCommand) -> Result<(), CliError> {
    use chiiki_backend::sale::{expiry, lottery};
    const ACTOR: &str = "staff:cli";
    let open = |target: SaleTarget| async move {
        let programme = load_programme(&target.programme)?;
        let db = Db::connect(&target.database_url).await?;
        db.migrate().await?;
        Ok::<_, CliError>((db, programme))
    };
    match command {
        SaleCommand::Commit { target, seed_file } => {
            let seed = match std::fs::read_to_string(&seed_file) {
                Ok(text) => lottery::Seed::parse(&text)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let seed = lottery::Seed::generate()?;
                    write_secret(&seed_file, seed.as_str())?;
                    say(&format!("new seed written to {}", seed_file.display()));
                    seed
                }
                Err(e) => return Err(e.into()),
            };
            let (db, programme) = open(target).await?;
            let record = lottery::commit(
                &db,
                &programme,
                &seed.commitment(),
                ACTOR,
                SystemClock.now(),
            )
            .await?;
            say(&format!(
                "commitment published: {}\napplications: {} (hash {})\n\
                 Keep {} sealed until the draw.",
                record.commitment,
                record.applications.len(),
                record.applications_hash,
                seed_file.display()
            ));
            Ok(())
        }
        SaleCommand::Draw { target, seed_file } => {
            let seed = lottery::Seed::parse(&std::fs::read_to_string(&seed_file)?)?;
            let (db, programme) = open(target).await?;
            let record = lottery::draw(&db, &programme, &seed, ACTOR, SystemClock.now()).await?;
            let results = record.results.unwrap_or_default();
            let winners = results.iter().filter(|r| r.won > 0).count();
            let won: i64 = results.iter().map(|r| r.won).sum();
            say(&format!(
                "drawn: {} applications, {winners} winners, {won} of {} sets allocated\nseed: {}",
                results.len(),
                record.sets_available,
                seed.as_str()
            ));
            Ok(())
        }
        SaleCommand::VerifyDraw {
            file,
            database_url,
            programme,
        } => {
            let record: chiiki_core::protocol::PublicDraw = match (file, database_url) {
                (Some(file), _) => {
                    let text = std::fs::read_to_string(&file)?;
                    serde_json::from_str(&text)
                        .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?
                }
                (None, Some(url)) => {
                    let programme = load_programme(&programme)?;
                    let db = Db::connect(&url).await?;
                    lottery::public_record(&db, &programme).await?
                }
                (None, None) => {
                    return Err(CliError::Usage(
                        "give --file draw.json (saved from GET /api/v1/sale/draw) or --database-url"
                            .into(),
                    ));
                }
            };
            match lottery::verify(&record) {
                Ok(v) => {
                    say(&format!(
                        "the draw checks out: {} applications, {} winners, {} sets (seed matches commitment {})",
                        v.applications, v.winners, v.sets_won, record.commitment
                    ));
                    Ok(())
                }
                Err(e) => {
                    say(&format!("the draw does NOT check out: {e}"));
                    Err(CliError::Usage(e.to_string()))
                }
            }
        }
        SaleCommand::Expire { target } => {
            let (db, programme) = open(target).await?;
            let summary = expiry::expire(&db, &programme, ACTOR, SystemClock.now()).await?;
            say(&format!(
                "expired {}: {} residents, {} lapsed now; {} lapsed in all",
                summary.issue, summary.residents, summary.amount, summary.total_lapsed
            ));
            Ok(())
        }
    }
}

/// Writes a secret file that only its owner can read.
fn write_secret(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{text}")?;
    Ok(())
}

async fn serve(
    listen: &str,
    db: Db,
    programme: Programme,
    settings: Settings,
    drain: std::time::Duration,
    tls: Option<(PathBuf, PathBuf)>,
    sale: chiiki_backend::sale::SaleRuntime,
) -> Result<(), CliError> {
    let listener = TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    tracing::info!(%address, tls = tls.is_some(), programme = %programme.id, engine = ?db.engine, "listening");
    let mut state = AppState::new(db, programme, Arc::new(SystemClock), settings);
    state.sale = sale;
    let draining = state.draining.clone();
    let shutdown = async move {
        shutdown_signal().await;
        // Tell the load balancer first, then stop accepting and finish what is in flight.
        draining.store(true, std::sync::atomic::Ordering::SeqCst);
        tracing::info!(seconds = drain.as_secs(), "draining before shutdown");
        tokio::time::sleep(drain).await;
    };
    match tls {
        Some((cert, key)) => {
            let listener = listener.into_std()?;
            chiiki_backend::serve_tls(listener, state, &cert, &key, shutdown).await?
        }
        None => chiiki_backend::serve(listener, state, shutdown).await?,
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

fn print_demo(listen: &str, p: &Programme) {
    let window = |w: &chiiki_backend::programme::Window| {
        format!(
            "{} 〜 {}",
            format_date(w.first_day),
            format_date(w.last_day)
        )
    };
    say(&format!(
        "\nChiiki demo: {} ({})\n\
         API:        http://{listen}/api/v1/programme   OpenAPI: http://{listen}/openapi.json\n\
         Windows (moved so that today is inside the usage window):\n  \
           申込 application {}\n  販売 sale        {}\n  利用 usage       {}\n\
         Logins:\n  \
           staff     {} / {}\n  \
           resident  {} / {}   PIN {}\n  \
           store     {} / {}\n",
        p.display_name,
        p.city.name,
        window(&p.application),
        window(&p.sale),
        window(&p.usage),
        demo::ADMIN_LOGIN,
        demo::ADMIN_PASSWORD,
        demo::RESIDENT_LOGIN,
        demo::RESIDENT_PASSWORD,
        demo::RESIDENT_PIN,
        demo::STORE_LOGIN,
        demo::STORE_PASSWORD,
    ));
}

#[derive(Subcommand)]
enum SettleCommand {
    /// Close a period (after its cutoff; periods close in order) and write into `--out` the
    /// Zengin 総合振込 file, a CSV of every store's line and each store's statement (CSV and
    /// PDF). Closing a closed period again writes the same files. Fonts for the PDFs come from
    /// CHIIKI_FONT_REGULAR / CHIIKI_FONT_BOLD (Debian's fonts-noto-cjk by default).
    Close {
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chiiki.db")]
        database_url: String,
        #[arg(long, env = "CHIIKI_PROGRAMME", default_value = DEFAULT_PROGRAMME_FILE)]
        programme: PathBuf,
        /// `2024-11` (monthly cycles) or `2024-11-1` / `2024-11-2` (semi-monthly).
        #[arg(long)]
        period: String,
        #[arg(long)]
        out: PathBuf,
        /// The data key file the server uses (bank accounts are sealed with it).
        #[arg(long, env = "CHIIKI_KEYS_FILE", default_value = "data/keys.toml")]
        keys_file: PathBuf,
    },
}

async fn settle(command: SettleCommand) -> Result<(), CliError> {
    use chiiki_backend::settlement::{self, statement};
    let SettleCommand::Close {
        database_url,
        programme,
        period,
        out,
        keys_file,
    } = command;
    let programme = load_programme(&programme)?;
    let period = settlement::parse_period(&programme, &period)?;
    let db = Db::connect(&database_url)
        .await?
        .with_vault(Arc::new(Vault::from_file(&keys_file)?));
    db.migrate().await?;
    db.check_vault().await?;
    let closed = settlement::close(&db, &programme, period, "cli", SystemClock.now()).await?;
    std::fs::create_dir_all(out.join("statements"))?;
    let summary = &closed.settlement.summary;
    say(&format!(
        "{period} を締めました: 振込 {}件 {}（振込日 {}）、手数料 {}（市が負担）",
        summary.transfer_count,
        summary.transfer_total,
        format_date(summary.payout_date),
        summary.fee_total
    ));
    match &closed.transfer_file {
        Some(bytes) => {
            let path = out.join(closed.transfer_file_name(&programme));
            std::fs::write(&path, bytes)?;
            say(&format!("全銀 総合振込ファイル: {}", path.display()));
        }
        None => say("振込はありません（振込ファイルは作りません）。"),
    }
    let lines = &closed.settlement.lines;
    let rows: Vec<_> = lines
        .iter()
        .map(|l| (summary, l, closed.accounts.get(&l.store_id)))
        .collect();
    let all = out.join(format!("settlement-{}-{period}.csv", programme.id));
    std::fs::write(&all, statement::csv(&rows))?;
    say(&format!("全店舗の明細 (CSV): {}", all.display()));
    let faces = chiiki_backend::pdf::Fonts::from_env().get().await?;
    for (summary, line, account) in rows {
        let name = out
            .join("statements")
            .join(format!("statement-{period}-{}", line.store_id));
        std::fs::write(
            name.with_extension("csv"),
            statement::csv(&[(summary, line, account)]),
        )?;
        std::fs::write(
            name.with_extension("pdf"),
            statement::pdf(&faces, &programme, summary, line, account)?,
        )?;
    }
    say(&format!(
        "店舗ごとの明細 (CSV, PDF) {}件: {}",
        lines.len(),
        out.join("statements").display()
    ));
    Ok(())
}
