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
use sqlx::{AnyPool, AssertSqlSafe, Transaction};
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
    /// The CPU SQLite's write connection keeps to, when it was opened for a server.
    writer_cpu: Option<usize>,
}

impl Db {
    /// Connects, creating a SQLite file (and its directory) if needed. Does not migrate.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        Self::open(url, false).await
    }

    /// Connects as [`Db::connect`] does, for `chiiki serve`: on SQLite the write connection
    /// keeps to one CPU, where the payment writer then runs too (`ops::cpu`), and a WAL left
    /// far too long (a crash loop) is copied back before serving (`start_over_a_long_wal`).
    pub async fn connect_for_serving(url: &str) -> Result<Db, DbError> {
        Self::open(url, true).await
    }

    async fn open(url: &str, serving: bool) -> Result<Db, DbError> {
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
                let (write, writer_cpu) = if serving {
                    connect_writer_on_one_cpu(options.clone()).await?
                } else {
                    let pool = sqlite_pool(1, Role::Writer)
                        .connect_with(options.clone())
                        .await?;
                    (pool, None)
                };
                let read = sqlite_pool(8, Role::Reader).connect_with(options).await?;
                if serving {
                    let sizes = WalFrames::of_database(&read).await?;
                    start_over_a_long_wal(sqlite_path(&url), &write, sizes).await?;
                }
                let alive = Arc::new(());
                tokio::spawn(checkpoint_sqlite(
                    write.clone(),
                    read.clone(),
                    Arc::downgrade(&alive),
                ));
                Ok(Db {
                    engine,
                    write,
                    read,
                    vault: Arc::new(Vault::ephemeral()?),
                    url: url.into(),
                    _alive: alive,
                    writer_cpu,
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
                    writer_cpu: None,
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
                    writer_cpu: None,
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

    /// The CPU that SQLite's write connection keeps to, when it was opened by
    /// [`Db::connect_for_serving`] on a machine with more than one.
    pub fn writer_cpu(&self) -> Option<usize> {
        self.writer_cpu
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

/// Opens SQLite's write pool and its one connection with the connection's thread kept to
/// one CPU, and says which (`None`: not restricted). sqlx gives each SQLite connection a
/// thread of its own, started by the thread that opens it and restricted as that one is: so
/// it is opened from a short-lived thread kept to that CPU. The connection is never retired
/// for age or idleness, since its successor would be started elsewhere.
async fn connect_writer_on_one_cpu(
    options: AnyConnectOptions,
) -> Result<(AnyPool, Option<usize>), sqlx::Error> {
    let pool = sqlite_pool(1, Role::Writer)
        .idle_timeout(None)
        .max_lifetime(None);
    let runtime = tokio::runtime::Handle::current();
    let (opened, open) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("chiiki-sqlite-open".into())
        .spawn(move || {
            let cpu = crate::ops::cpu::keep_to_one_cpu().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "SQLite's write connection: cannot keep it to one CPU");
                None
            });
            let pool = runtime.block_on(pool.connect_with(options));
            let _ = opened.send(pool.map(|pool| (pool, cpu)));
        })?;
    open.await.map_err(|_| sqlx::Error::WorkerCrashed)?
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
                    // Once the WAL starts over, its file is cut back only if a burst made
                    // it larger than [`WAL_KEPT_BYTES`].
                    sqlx::query(AssertSqlSafe(format!(
                        "PRAGMA journal_size_limit = {WAL_KEPT_BYTES}"
                    )))
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            })
        })
}

/// How often SQLite's WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// The WAL's size beyond which the checkpointer makes the writer start it over (1 GiB), about
/// ten seconds at half of the benchmark's maximum. A WAL that only grows fills the disk and
/// makes every commit's flush dearer (the file grows with it); each start-over pauses the
/// writer (5–55 ms) after catch-up rounds that load the disk, so it should be rare. The pause
/// is mostly a flush of the database file: SQLite flushes it only after a checkpoint that
/// copied the whole WAL, which under steady writes is only the one with the writer paused, so
/// that flush writes every page copied since the last start-over (flushing them beside the
/// writer instead, every second or before the start-over, was measured and gained nothing).
/// Measured under the benchmark's load, runs alternated: 1 GiB gave p99 14–30 ms at half of
/// the maximum against 34–44 ms at 256 MiB; 64 MiB was no better than 256, and 2 or 4 GiB made
/// every commit slower (`docs/benchmarks.md`). A larger WAL also costs a restart after a
/// crash, which reads it back: at 1 GiB about 0.3–0.45 s.
const WAL_RESTART_BYTES: i64 = 1 << 30;
/// The WAL file's size kept when it starts over: twice the start-over size, so the file is
/// overwritten, not cut back and grown again. Derived, because a limit below the start-over
/// size (the file cut back and grown again every few seconds) made p99 six times worse.
const WAL_KEPT_BYTES: i64 = 2 * WAL_RESTART_BYTES;
/// Passive checkpoints beside the writer, at most, before it is paused for the rest.
const CATCH_UP_ROUNDS: usize = 8;
/// What is left over that is little enough to copy while the writer waits.
const FEW_BYTES: i64 = 1 << 20;

/// The checkpointer's sizes in WAL frames, one page each: SQLite counts the WAL in frames,
/// and a database's page size is its own (4 KiB unless it was made otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WalFrames {
    /// Frames beyond which the WAL starts over ([`WAL_RESTART_BYTES`]).
    restart: i64,
    /// Frames few enough to copy with the writer paused ([`FEW_BYTES`]).
    few: i64,
}

impl WalFrames {
    fn of_pages(page_size: i64) -> WalFrames {
        // SQLite's pages are 512 bytes to 64 KiB.
        let page = page_size.clamp(512, 65_536);
        WalFrames {
            restart: WAL_RESTART_BYTES / page,
            few: FEW_BYTES / page,
        }
    }

    async fn of_database(read: &AnyPool) -> Result<WalFrames, sqlx::Error> {
        let (page_size,) = sqlx::query_as::<_, (i64,)>("PRAGMA page_size")
            .fetch_one(read)
            .await?;
        Ok(WalFrames::of_pages(page_size))
    }
}

/// Copies SQLite's WAL back into the database file every [`CHECKPOINT_EVERY`], on a reader
/// connection, without blocking the writer (a passive checkpoint), until the database is
/// dropped or closed.
///
/// Under steady writes a passive checkpoint never quite catches up (frames arrive while it
/// copies), and SQLite starts the WAL over only when a write begins with every frame copied
/// back. So once the WAL is past [`WAL_RESTART_BYTES`], the checkpointer copies until few
/// frames are left, then takes the writer's connection (waiting for the batch in flight) and
/// copies the rest there: the next write starts the WAL over. The writer waits for those few
/// frames only; a reader in a long transaction makes the copy stop short, never wait.
async fn checkpoint_sqlite(write: AnyPool, read: AnyPool, alive: std::sync::Weak<()>) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if alive.strong_count() == 0 || read.is_closed() {
            return;
        }
        let done = async {
            let sizes = WalFrames::of_database(&read).await?;
            checkpoint_once(&write, &read, sizes).await
        };
        if let Err(e) = done.await {
            tracing::warn!(error = %e, "SQLite checkpoint failed; trying again in a second");
        }
    }
}

async fn checkpoint_once(
    write: &AnyPool,
    read: &AnyPool,
    sizes: WalFrames,
) -> Result<(), sqlx::Error> {
    let (checkpoint, millis) = timed(passive_checkpoint(read)).await;
    let (frames, copied) = checkpoint?;
    tracing::debug!(frames, copied, millis, "SQLite WAL checkpoint");
    if frames < sizes.restart {
        return Ok(());
    }
    // A checkpoint reports the WAL as it found it; what the writer added meanwhile is left.
    // A short round means little was added: then the writer's pause is short too.
    let mut rounds = 1;
    let mut before = frames;
    loop {
        let (checkpoint, millis) = timed(passive_checkpoint(read)).await;
        let (frames, _) = checkpoint?;
        rounds += 1;
        let added = frames - before;
        before = frames;
        tracing::debug!(rounds, added, millis, "SQLite WAL catch-up round");
        if added <= sizes.few || rounds >= CATCH_UP_ROUNDS {
            break;
        }
    }
    let (writer, waited_ms) = timed(write.acquire()).await;
    let mut writer = writer?;
    let (checkpoint, paused_ms) = timed(passive_checkpoint(&mut *writer)).await;
    drop(writer);
    let (frames, copied) = checkpoint?;
    tracing::debug!(
        frames,
        copied,
        rounds,
        left = frames - before,
        waited_ms,
        paused_ms,
        "SQLite WAL copied back with the writer paused"
    );
    Ok(())
}

/// Before a server serves: a WAL in use past twice the start-over size is copied back first,
/// so that the next write starts it over. The checkpointer starts a WAL over only after its
/// first second and some catch-up rounds; a server killed again and again sooner than that (a
/// crash loop) grew the WAL without bound, and with it the read-back every restart begins with
/// (the crash harness, kills 0.05–0.4 s after each start: 1.8 GiB after 120 kills). Twice the
/// start-over size, because steady work never gets there (the WAL starts over at 1 GiB) while a
/// single crash often leaves a WAL just past 1 GiB (killed during the catch-up rounds): for
/// that one the read-back (0.3–0.45 s) and the checkpointer's copy beside the writer (2.1 s
/// for a gigabyte of a server's database) beat keeping every payment waiting for the copy.
async fn start_over_a_long_wal(
    path: &str,
    write: &AnyPool,
    sizes: WalFrames,
) -> Result<(), sqlx::Error> {
    let Some(frames) = wal_frames_in_use(path) else {
        return Ok(());
    };
    if i64::from(frames) < 2 * sizes.restart {
        return Ok(());
    }
    // Nothing else writes or reads yet, so a passive checkpoint on the writer's connection
    // copies every frame.
    let (checkpoint, millis) = timed(passive_checkpoint(write)).await;
    let (frames, copied) = checkpoint?;
    tracing::info!(
        frames,
        copied,
        millis,
        "SQLite's WAL was past twice its start-over size at start; copied back before serving"
    );
    Ok(())
}

/// The frames in use in the WAL of the SQLite database at `path`, as the WAL-index header in
/// its `-shm` file says (`mxFrame`: https://www.sqlite.org/walformat.html, section 2.1 — the
/// 48-byte header is written twice and valid when both copies agree; integers in the
/// machine's byte order). `None` when there is no such file or the header is not whole: then
/// nothing is known and nothing should be done on the strength of it.
fn wal_frames_in_use(path: &str) -> Option<u32> {
    use std::io::Read;
    let mut header = [0u8; 96];
    std::fs::File::open(format!("{path}-shm"))
        .and_then(|mut shm| shm.read_exact(&mut header))
        .ok()?;
    let (first, second) = header.split_at(48);
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(first.get(at..at + 4)?.try_into().ok()?))
    };
    // iVersion 3007000 and isInit set: a header SQLite wrote.
    let written = word(0) == Some(3_007_000) && first.get(12) == Some(&1);
    (written && first == second).then(|| word(16)).flatten()
}

/// `work`'s output and how long it took, in milliseconds (for the checkpointer's debug log).
async fn timed<T>(work: impl std::future::Future<Output = T>) -> (T, f64) {
    let started = std::time::Instant::now();
    let output = work.await;
    (output, started.elapsed().as_secs_f64() * 1000.0)
}

/// One passive checkpoint: the WAL's frames and how many of them are now in the database.
async fn passive_checkpoint<'c, E>(on: E) -> Result<(i64, i64), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let (_busy, frames, copied) =
        sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(on)
            .await?;
    Ok((frames, copied))
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_wal_starts_over_while_the_writer_keeps_writing() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("wal.db").display());
        let db = Db::connect(&url).await.expect("a SQLite database");
        sqlx::query("CREATE TABLE t (x INTEGER NOT NULL)")
            .execute(db.writer())
            .await
            .expect("a table");
        for x in 0..1500 {
            sqlx::query("INSERT INTO t (x) VALUES ($1)")
                .bind(x)
                .execute(db.writer())
                .await
                .expect("a row");
        }
        // A writer that never stops: a passive checkpoint alone never finds the WAL idle.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = tokio::spawn({
            let (db, stop) = (db.clone(), stop.clone());
            async move {
                let mut commits = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    sqlx::query("INSERT INTO t (x) VALUES (0)")
                        .execute(db.writer())
                        .await
                        .expect("a row");
                    commits += 1;
                }
                commits
            }
        });
        let (before, _) = passive_checkpoint(db.reader()).await.expect("a checkpoint");
        assert!(
            before >= 1500,
            "the WAL holds every commit so far: {before}"
        );
        let sizes = WalFrames {
            restart: 1000,
            ..WalFrames::of_pages(4096)
        };
        checkpoint_once(db.writer(), db.reader(), sizes)
            .await
            .expect("a checkpoint with the writer paused");
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let commits = writer.await.expect("the writer");
        let (after, _) = passive_checkpoint(db.reader()).await.expect("a checkpoint");
        assert!(commits > 0);
        // Without starting over the WAL would hold `before` frames and one per commit more.
        assert!(
            after < before,
            "the WAL did not start over: {after} frames, {before} before and {commits} commits"
        );
    }

    /// A database whose WAL holds `rows` commits, none copied back: its write connection
    /// alone (no checkpointer, which could copy the WAL back at any moment).
    async fn with_a_wal_of(rows: i64) -> (tempfile::TempDir, String, AnyPool) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("loop.db").display().to_string();
        let options = AnyConnectOptions::from_str(&with_create_mode(&format!("sqlite://{path}")))
            .expect("a URL");
        let pool = sqlite_pool(1, Role::Writer)
            .connect_with(options)
            .await
            .expect("a SQLite database");
        sqlx::query("CREATE TABLE t (x INTEGER NOT NULL)")
            .execute(&pool)
            .await
            .expect("a table");
        for x in 0..rows {
            sqlx::query("INSERT INTO t (x) VALUES ($1)")
                .bind(x)
                .execute(&pool)
                .await
                .expect("a row");
        }
        (dir, path, pool)
    }

    /// The frames in use after a start with the WAL starting over past `restart` frames and
    /// one write after it.
    async fn frames_after_a_start(path: &str, pool: &AnyPool, restart: i64) -> u32 {
        let sizes = WalFrames {
            restart,
            ..WalFrames::of_pages(4096)
        };
        start_over_a_long_wal(path, pool, sizes)
            .await
            .expect("a start");
        sqlx::query("INSERT INTO t (x) VALUES (0)")
            .execute(pool)
            .await
            .expect("a row");
        wal_frames_in_use(path).expect("a WAL index")
    }

    #[tokio::test]
    async fn the_frames_in_use_are_read_from_the_wal_index() {
        let (_dir, path, pool) = with_a_wal_of(300).await;
        let in_use = wal_frames_in_use(&path).expect("a WAL index");
        let (frames, _) = passive_checkpoint(&pool).await.expect("a checkpoint");
        assert!(in_use >= 300, "{in_use}");
        assert_eq!(i64::from(in_use), frames);
        assert_eq!(wal_frames_in_use(&format!("{path}.none")), None);
    }

    #[tokio::test]
    async fn a_wal_past_twice_its_start_over_size_is_copied_back_before_serving() {
        let (_dir, path, pool) = with_a_wal_of(300).await;
        let before = wal_frames_in_use(&path).expect("a WAL index");
        // Under twice its start-over size: left to the checkpointer, the WAL goes on growing.
        let grown = frames_after_a_start(&path, &pool, i64::from(before) / 2 + 1).await;
        assert!(grown > before, "{grown} after {before}");
        // Past it: copied back, so the next write starts the WAL over.
        let after = frames_after_a_start(&path, &pool, i64::from(before) / 2).await;
        assert!(after < 10, "the WAL did not start over: {after} frames");
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .expect("a count");
        assert_eq!(count, 302, "every row is still there");
    }

    #[tokio::test]
    async fn the_wal_s_sizes_follow_the_database_s_pages() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("pages.db").display());
        let db = Db::connect(&url).await.expect("a SQLite database");
        let sizes = WalFrames::of_database(db.reader())
            .await
            .expect("a page size");
        // SQLite's default pages: 1 GiB of them, 1 MiB left for the writer's pause.
        assert_eq!(
            sizes,
            WalFrames {
                restart: 262_144,
                few: 256
            }
        );
        assert_eq!(WalFrames::of_pages(1024).restart, 1_048_576);
        assert_eq!(WalFrames::of_pages(65_536).few, 16);
        assert_eq!(WalFrames::of_pages(0), WalFrames::of_pages(512));
    }

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

    /// The CPUs that each thread of this process named `prefix…` may run on.
    #[cfg(target_os = "linux")]
    fn threads_named(prefix: &str) -> Vec<Vec<usize>> {
        let mut found = Vec::new();
        for task in std::fs::read_dir("/proc/self/task")
            .expect("/proc")
            .flatten()
        {
            let Ok(tid) = task.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let comm = std::fs::read_to_string(task.path().join("comm"));
            // Either fails for a thread that has just ended.
            if let (Ok(comm), Ok(cpus)) = (comm, crate::ops::cpu::thread_cpus(tid))
                && comm.starts_with(prefix)
            {
                found.push(cpus);
            }
        }
        found
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_server_s_sqlite_write_connection_keeps_to_one_cpu() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("cpu.db").display());
        let plain = Db::connect(&url).await.expect("a SQLite database");
        assert_eq!(plain.writer_cpu(), None);
        let pinned_before = threads_named("sqlx-sqlite")
            .iter()
            .filter(|cpus| cpus.len() == 1)
            .count();

        let db = Db::connect_for_serving(&url)
            .await
            .expect("a SQLite database");
        sqlx::query("CREATE TABLE t (x INTEGER NOT NULL)")
            .execute(db.writer())
            .await
            .expect("the write connection works");
        let Some(cpu) = db.writer_cpu() else {
            // Only where this test may use a single CPU: nothing to keep to.
            assert_eq!(crate::ops::cpu::allowed_cpus().expect("affinity").len(), 1);
            return;
        };
        let pinned: Vec<Vec<usize>> = threads_named("sqlx-sqlite")
            .into_iter()
            .filter(|cpus| cpus.len() == 1)
            .collect();
        assert_eq!(pinned.len(), pinned_before + 1, "{pinned:?}");
        assert!(pinned.contains(&vec![cpu]), "{pinned:?} {cpu}");
        // The thread that opened it keeps every CPU.
        assert!(crate::ops::cpu::allowed_cpus().expect("affinity").len() > 1);
    }
}
