//! `chiiki`: the ledger server's command line.

use chiiki_backend::auth::{self, PinPolicy};
use chiiki_backend::clock::{Clock, SystemClock};
use chiiki_backend::crypto::HashCost;
use chiiki_backend::db::Db;
use chiiki_backend::programme::{DEFAULT_PROGRAMME_FILE, Programme};
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
    /// Manage city staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
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
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Programme(#[from] chiiki_backend::programme::ProgrammeError),
    #[error(transparent)]
    Db(#[from] chiiki_backend::db::DbError),
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
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
    init_logging(cli.log_format);
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
            let db = Db::connect(&server.database_url).await?;
            db.migrate().await?;
            serve(&server.listen, db, programme, settings).await
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
        Command::Migrate { database_url } => {
            let db = Db::connect(&database_url).await?;
            db.migrate().await?;
            say("migrations applied");
            Ok(())
        }
        Command::Demo { listen, file } => {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = file.clone().into_os_string();
                path.push(suffix);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
            }
            let url = format!("sqlite://{}", file.display());
            let db = Db::connect(&url).await?;
            db.migrate().await?;
            let clock = SystemClock;
            let now = clock.now();
            let programme = demo::shifted_programme(&Programme::midori_2024()?, jst_date(now));
            let settings = Settings::default();
            demo::seed_demo(&db, &programme, settings.hash_cost, now).await?;
            print_demo(&listen, &programme);
            serve(&listen, db, programme, settings).await
        }
    }
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
    })
}

async fn serve(
    listen: &str,
    db: Db,
    programme: Programme,
    settings: Settings,
) -> Result<(), CliError> {
    let listener = TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    tracing::info!(%address, programme = %programme.id, engine = ?db.engine, "listening");
    let state = AppState {
        db,
        programme: Arc::new(programme),
        clock: Arc::new(SystemClock),
        settings,
    };
    chiiki_backend::serve(listener, state, shutdown_signal()).await?;
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
