//! Backups: a consistent online snapshot while the service keeps running (SQLite's
//! `VACUUM INTO`, PostgreSQL's `pg_dump`), verified by opening it and checking the ledger's
//! invariants, keeping the newest N generations; and restore.

use crate::db::{Db, DbError, Engine};
use crate::ledger;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use tokio::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("backup directory {0}: {1}")]
    Io(String, std::io::Error),
    #[error("{tool} failed: {message}")]
    Tool { tool: &'static str, message: String },
    #[error("the backup {path} does not hold a sound ledger: {problems}")]
    Unsound { path: String, problems: String },
    #[error("not a backup of this engine: {0}")]
    WrongKind(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
}

const PREFIX: &str = "chiiki-";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Io(path.display().to_string(), e)
}

/// One finished backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub path: PathBuf,
    pub bytes: u64,
    /// Older generations removed to keep `keep`.
    pub removed: Vec<PathBuf>,
}

/// Takes a backup of `db` (reached at `url`) into `dir`, verifies it, then keeps the newest
/// `keep` generations there.
pub async fn backup(
    db: &Db,
    url: &str,
    dir: &Path,
    keep: usize,
    now: DateTime<Utc>,
) -> Result<Backup, BackupError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let stamp = now.format("%Y%m%dT%H%M%S%3fZ");
    let path = match db.engine {
        Engine::Sqlite => {
            let path = dir.join(format!("{PREFIX}{stamp}.db"));
            // A read connection: writers carry on while the snapshot is taken.
            sqlx::query("VACUUM INTO $1")
                .bind(path.display().to_string())
                .execute(db.reader())
                .await?;
            path
        }
        Engine::Postgres => {
            let path = dir.join(format!("{PREFIX}{stamp}.pgdump"));
            run(
                "pg_dump",
                Command::new("pg_dump")
                    .arg("--format=custom")
                    .arg("--no-owner")
                    .arg("--file")
                    .arg(&path)
                    .arg(url),
            )
            .await?;
            path
        }
    };
    verify(&path, url).await?;
    let bytes = std::fs::metadata(&path).map_err(io(&path))?.len();
    let removed = prune(dir, keep.max(1))?;
    tracing::info!(target: crate::ops::logs::OPERATION, path = %path.display(), bytes, removed = removed.len(), "backup taken");
    Ok(Backup {
        path,
        bytes,
        removed,
    })
}

/// The backups in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with(PREFIX) && (name.ends_with(".db") || name.ends_with(".pgdump"))
        })
        .collect();
    // Names carry a UTC timestamp, so name order is age order.
    found.sort();
    Ok(found)
}

fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, BackupError> {
    let all = list(dir)?;
    let excess = all.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for old in all.into_iter().take(excess) {
        std::fs::remove_file(&old).map_err(io(&old))?;
        removed.push(old);
    }
    Ok(removed)
}

/// Opens a backup and checks the ledger in it. SQLite backups are checked on a scratch copy
/// (opening a file can change it); PostgreSQL dumps are restored into a scratch database
/// next to `url`'s and dropped afterwards.
pub async fn verify(path: &Path, url: &str) -> Result<(), BackupError> {
    let name = path.display().to_string();
    if name.ends_with(".db") {
        let scratch = tempfile::Builder::new()
            .prefix("chiiki-verify")
            .tempdir()
            .map_err(io(path))?;
        let copy = scratch.path().join("copy.db");
        std::fs::copy(path, &copy).map_err(io(path))?;
        let db = Db::connect(&format!("sqlite://{}", copy.display())).await?;
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(db.reader())
            .await?;
        let problems = ledger::check_invariants(db.reader()).await?;
        db.close().await;
        return sound(&name, integrity == "ok", problems);
    }
    if !name.ends_with(".pgdump") {
        return Err(BackupError::WrongKind(name));
    }
    let scratch_name = format!("chiiki_verify_{}", Utc::now().timestamp_millis());
    let admin = Db::connect(url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {scratch_name}"
    )))
    .execute(admin.writer())
    .await?;
    let scratch_url = with_database(url, &scratch_name);
    let restored = restore_postgres(path, &scratch_url).await;
    let checked = match restored {
        Ok(()) => {
            let db = Db::connect(&scratch_url).await?;
            let problems = ledger::check_invariants(db.reader()).await;
            db.close().await;
            problems.map_err(BackupError::from)
        }
        Err(e) => Err(e),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {scratch_name}")))
        .execute(admin.writer())
        .await?;
    admin.close().await;
    sound(&name, true, checked?)
}

fn sound(path: &str, intact: bool, problems: Vec<String>) -> Result<(), BackupError> {
    if intact && problems.is_empty() {
        Ok(())
    } else {
        Err(BackupError::Unsound {
            path: path.to_string(),
            problems: if intact {
                problems.join("; ")
            } else {
                "integrity check failed".to_string()
            },
        })
    }
}

/// Brings a backup back into the database at `url`. For SQLite the server must be stopped:
/// the file is replaced. For PostgreSQL the dump's objects replace the database's.
pub async fn restore(path: &Path, url: &str) -> Result<(), BackupError> {
    verify(path, url).await?;
    let name = path.display().to_string();
    if url.starts_with("sqlite:") {
        if !name.ends_with(".db") {
            return Err(BackupError::WrongKind(name));
        }
        let target = PathBuf::from(crate::db::sqlite_path(url));
        for suffix in ["-wal", "-shm"] {
            let mut side = target.clone().into_os_string();
            side.push(suffix);
            let _ = std::fs::remove_file(side);
        }
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::copy(path, &target).map_err(io(&target))?;
    } else {
        if !name.ends_with(".pgdump") {
            return Err(BackupError::WrongKind(name));
        }
        restore_postgres(path, url).await?;
    }
    tracing::info!(target: crate::ops::logs::OPERATION, path = %name, "backup restored");
    Ok(())
}

async fn restore_postgres(path: &Path, url: &str) -> Result<(), BackupError> {
    run(
        "pg_restore",
        Command::new("pg_restore")
            .arg("--clean")
            .arg("--if-exists")
            .arg("--no-owner")
            .arg("--exit-on-error")
            .arg("--dbname")
            .arg(url)
            .arg(path),
    )
    .await
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn run(tool: &'static str, command: &mut Command) -> Result<(), BackupError> {
    let output = command.output().await.map_err(|e| BackupError::Tool {
        tool,
        message: e.to_string(),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(BackupError::Tool {
            tool,
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_databases_sit_beside_the_real_one() {
        assert_eq!(
            with_database("postgres://u@h:5432/chiiki?sslmode=require", "x"),
            "postgres://u@h:5432/x?sslmode=require"
        );
    }

    #[test]
    fn only_the_newest_generations_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        for n in 1..=9 {
            std::fs::write(
                dir.path().join(format!("chiiki-2024120{n}T000000000Z.db")),
                b"x",
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"keep me").unwrap();
        let removed = prune(dir.path(), 7).unwrap();
        assert_eq!(removed.len(), 2);
        let left = list(dir.path()).unwrap();
        assert_eq!(left.len(), 7);
        assert!(left[0].ends_with("chiiki-20241203T000000000Z.db"));
        assert!(dir.path().join("notes.txt").exists());
    }
}

/// A daily backup at a JST time of day.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub at: chrono::NaiveTime,
    pub dir: PathBuf,
    pub keep: usize,
}

/// The next instant after `now` at which the JST clock reads `at`.
pub fn next_run(now: DateTime<Utc>, at: chrono::NaiveTime) -> DateTime<Utc> {
    use chrono::TimeZone;
    let jst = chiiki_core::time::jst();
    let today = now.with_timezone(&jst).date_naive();
    [today, today + chrono::Days::new(1)]
        .into_iter()
        .filter_map(|day| jst.from_local_datetime(&day.and_time(at)).single())
        .map(|t| t.with_timezone(&Utc))
        .find(|t| *t > now)
        .unwrap_or(now + chrono::Duration::days(1))
}

/// Runs forever inside `serve`: a backup every day at `schedule.at`. A failed backup is
/// logged as a failure and retried the next day; it never stops the server.
pub async fn run_daily(db: Db, url: String, schedule: Schedule) {
    loop {
        let now = Utc::now();
        let wait = (next_run(now, schedule.at) - now)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(60));
        tokio::time::sleep(wait).await;
        if let Err(e) = backup(&db, &url, &schedule.dir, schedule.keep, Utc::now()).await {
            tracing::error!(target: crate::ops::logs::FAILURE, error = %e, "daily backup failed");
        }
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_daily_backup_runs_at_the_next_jst_time() {
        let three = chrono::NaiveTime::from_hms_opt(3, 0, 0).unwrap();
        // 2024-12-01 02:00 JST → 03:00 JST the same day.
        let now = Utc.with_ymd_and_hms(2024, 11, 30, 17, 0, 0).unwrap();
        assert_eq!(
            next_run(now, three),
            Utc.with_ymd_and_hms(2024, 11, 30, 18, 0, 0).unwrap()
        );
        // 2024-12-01 04:00 JST → 03:00 JST the next day.
        let now = Utc.with_ymd_and_hms(2024, 11, 30, 19, 0, 0).unwrap();
        assert_eq!(
            next_run(now, three),
            Utc.with_ymd_and_hms(2024, 12, 1, 18, 0, 0).unwrap()
        );
    }
}
