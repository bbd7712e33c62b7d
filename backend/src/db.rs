//! Database access: connecting to SQLite (the embedded default) or PostgreSQL (production),
//! running migrations, and the small helpers every domain module uses. Queries are written
//! once, in SQL both engines accept (`$1` parameters, BIGINT everywhere, no vendor locks), and
//! run through sqlx's `Any` driver.
//!
//! SQLite allows one writer at a time, so writes go through a single-connection pool (no
//! SQLITE_BUSY storms); reads use a separate pool and see WAL snapshots. PostgreSQL uses one
//! pool for both.

use crate::vault::{Vault, VaultError};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub type Tx = Transaction<'static, sqlx::Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL (use sqlite://… or postgres://…): {0}")]
    UnsupportedUrl(String),
    #[error("cannot create the database directory {0}: {1}")]
    Directory(String, std::io::Error),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(
        "the key file does not match this database (its data was sealed with other keys); \
         start with the key file the data was written with"
    )]
    WrongKeys,
}

#[derive(Clone, Debug)]
pub struct Db {
    pub engine: Engine,
    write: AnyPool,
    read: AnyPool,
    /// Seals personal data on its way in and opens it on its way out.
    vault: Arc<Vault>,
    /// The server's URL, for connections outside the pools (PostgreSQL's LISTEN).
    url: Arc<str>,
    /// Held by every clone: SQLite's checkpointer stops when the last one is gone.
    _alive: Arc<()>,
}

impl Db {
    /// Connects, creating a SQLite file (and its directory) if needed. Does not migrate.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(url.to_string()));
        };
        match engine {
            Engine::Sqlite => {
                ensure_sqlite_dir(url)?;
                let url = with_create_mode(url);
                let options = AnyConnectOptions::from_str(&url)?;
                let write = sqlite_pool(1, Role::Writer)
                    .connect_with(options.clone())
                    .await?;
                let read = sqlite_pool(8, Role::Reader).connect_with(options).await?;
                let alive = Arc::new(());
                tokio::spawn(checkpoint_sqlite(read.clone(), Arc::downgrade(&alive)));
                Ok(Db {
                    engine,
                    write,
                    read,
                    vault: Arc::new(Vault::ephemeral()?),
                    url: url.into(),
                    _alive: alive,
                })
            }
            Engine::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await?;
                Ok(Db {
                    engine,
                    write: pool.clone(),
                    read: pool,
                    vault: Arc::new(Vault::ephemeral()?),
                    url: url.into(),
                    _alive: Arc::new(()),
                })
            }
        }
    }

    /// The same database for a runtime of its own (the group-commit writers'): on PostgreSQL
    /// a new pool of `connections`, whose sockets this runtime drives, connected on first
    /// use; SQLite's connections run on threads of their own and are shared as they are.
    pub fn for_this_runtime(&self, connections: u32) -> Result<Db, DbError> {
        match self.engine {
            Engine::Sqlite => Ok(self.clone()),
            Engine::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // The writers run the same few statements batch after batch,
                            // each a handful of primary-key lookups: plan them once, and as
                            // index lookups whatever the statistics say. A plan made while a
                            // table was nearly empty (a programme's first day) would otherwise
                            // stay a full scan as the table grows.
                            sqlx::raw_sql(
                                "SET plan_cache_mode = force_generic_plan;
                                 SET enable_seqscan = off;
                                 SET enable_hashjoin = off;
                                 SET enable_mergejoin = off",
                            )
                            .execute(&mut *conn)
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_lazy(&self.url)?;
                Ok(Db {
                    engine: self.engine,
                    write: pool.clone(),
                    read: pool,
                    vault: self.vault.clone(),
                    url: self.url.clone(),
                    _alive: self._alive.clone(),
                })
            }
        }
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        match self.engine {
            Engine::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.write)
                    .await?
            }
            Engine::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.write)
                    .await?
            }
        }
        Ok(())
    }

    /// The same database, sealing personal data with `vault` (from the key file).
    pub fn with_vault(mut self, vault: Arc<Vault>) -> Db {
        self.vault = vault;
        self
    }

    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The vault itself, for another connection to the same database.
    pub fn shared_vault(&self) -> Arc<Vault> {
        self.vault.clone()
    }

    /// The connection URL of a PostgreSQL database (`None` for SQLite).
    pub fn postgres_url(&self) -> Option<&str> {
        (self.engine == Engine::Postgres).then_some(&*self.url)
    }

    /// Makes sure the configured keys are the ones this database's personal data was sealed
    /// with: the first start records a check value, later starts must open it.
    pub async fn check_vault(&self) -> Result<(), DbError> {
        const CHECK: &str = "chiiki vault check";
        let index = self.vault.blind_index("check", CHECK);
        let row = sqlx::query_as::<_, (String, String)>(
            "SELECT sealed, index_check FROM vault_check WHERE id = 1",
        )
        .fetch_optional(&self.write)
        .await?;
        match row {
            None => {
                let sealed = self.vault.seal("vault_check.sealed", CHECK)?;
                sqlx::query(
                    "INSERT INTO vault_check (id, sealed, index_check) VALUES (1, $1, $2)
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(sealed)
                .bind(index)
                .execute(&self.write)
                .await?;
                Ok(())
            }
            Some((sealed, stored_index)) => {
                let opens = self.vault.open("vault_check.sealed", &sealed).ok();
                if opens.as_deref() == Some(CHECK) && stored_index == index {
                    Ok(())
                } else {
                    Err(DbError::WrongKeys)
                }
            }
        }
    }

    /// The pool for statements that write (or must see the latest committed state).
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// The pool for reads that may lag a commit by a moment.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.write.begin().await
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
}

fn sqlite_pool(max: u32, role: Role) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                // WAL lets readers run beside the writer; FULL makes every commit durable.
                for pragma in [
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = FULL",
                    "PRAGMA busy_timeout = 10000",
                    "PRAGMA foreign_keys = ON",
                ] {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                if role == Role::Writer {
                    // The writer never copies the WAL back into the database itself: that
                    // would stall the commit that crossed the threshold (and every payment
                    // waiting on it) for tens of milliseconds. `checkpoint_sqlite` does it
                    // beside the writer instead.
                    sqlx::query("PRAGMA wal_autocheckpoint = 0")
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
}

/// How often SQLite's WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copies SQLite's WAL back into the database file every [`CHECKPOINT_EVERY`], on a reader
/// connection, without blocking the writer (a passive checkpoint), until the database is
/// dropped or closed. The writer starts the WAL over once a checkpoint has caught up, so it
/// stays about a second of writes long.
async fn checkpoint_sqlite(pool: AnyPool, alive: std::sync::Weak<()>) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if alive.strong_count() == 0 || pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "SQLite checkpoint failed; trying again in a second");
        }
    }
}

/// The file a `sqlite:` URL names.
pub fn sqlite_path(url: &str) -> &str {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    rest.split('?').next().unwrap_or(rest)
}

fn ensure_sqlite_dir(url: &str) -> Result<(), DbError> {
    let path = std::path::Path::new(sqlite_path(url));
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && path.as_os_str() != ":memory:" => {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbError::Directory(dir.display().to_string(), e))
        }
        _ => Ok(()),
    }
}

fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// `SUM` over BIGINT is NUMERIC on PostgreSQL, which the `Any` driver cannot decode; every
/// sum goes through this cast.
pub fn sum(expr: &str) -> String {
    format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT)")
}

/// Whether `tx` runs on SQLite (`sqlx::Any` names its backends).
pub fn is_sqlite(conn: &sqlx::AnyConnection) -> bool {
    conn.backend_name() == "SQLite"
}

/// How many rows a set-based statement is written for: `n` rounded up to a power of four. A
/// batch of any size then uses one of a few statement texts (1, 4, 16, 64 or 256 rows), so
/// the prepared-statement caches (100 statements per connection, not configurable through
/// `sqlx::Any` on SQLite) keep all of them beside the other writes: a statement pushed out
/// would be prepared again, and a big one costs more to prepare than to run. The spare rows
/// are NULL and match nothing.
pub fn padded(n: usize) -> usize {
    let mut rows = 1;
    while rows < n {
        rows *= 4;
    }
    rows
}

/// `$first, $first+1, …` for `n` parameters: an `IN (…)` list.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($first, …), (…), …`: `rows` rows of `columns` parameters for a `VALUES` list, whose
/// columns both engines name `column1`, `column2`, ….
pub fn value_rows(first: usize, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(first + r * columns, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether an error is a unique-constraint violation (both engines).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(sqlite_path("sqlite://data/chiiki.db"), "data/chiiki.db");
        assert_eq!(sqlite_path("sqlite:data/x.db?mode=rwc"), "data/x.db");
        assert_eq!(with_create_mode("sqlite://a.db"), "sqlite://a.db?mode=rwc");
    }

    #[test]
    fn set_statements_come_in_a_few_sizes() {
        assert_eq!(
            [0, 1, 2, 4, 5, 16, 17, 64, 65].map(padded),
            [1, 1, 4, 4, 16, 16, 64, 64, 256]
        );
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(value_rows(1, 2, 2), "($1, $2), ($3, $4)");
    }
}
