//! Logs the city can ask for: structured JSON lines, kept in daily files when `--log-dir` is
//! set, and exported by kind and date range (`chiiki logs export`).
//!
//! Kinds are tracing targets: `chiiki::access` (every request: who, what, status, time),
//! `chiiki::operation` (what staff and store staff did), `chiiki::change` (master data and
//! accounts changed), `chiiki::failure` (server faults, refusals by rate limits). Personal data
//! never goes into a log line: log ids, never names, phones, addresses or bodies.

use chrono::{DateTime, NaiveDate, Utc};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

pub const ACCESS: &str = "chiiki::access";
pub const OPERATION: &str = "chiiki::operation";
pub const CHANGE: &str = "chiiki::change";
pub const FAILURE: &str = "chiiki::failure";

/// File names start with this; tracing-appender adds `.YYYY-MM-DD`.
const FILE_PREFIX: &str = "chiiki.log";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Access,
    Operation,
    Change,
    Failure,
}

impl LogKind {
    fn matches(self, target: &str, level: &str) -> bool {
        match self {
            LogKind::Access => target == ACCESS,
            LogKind::Operation => target == OPERATION,
            LogKind::Change => target == CHANGE,
            LogKind::Failure => target == FAILURE || level == "ERROR",
        }
    }
}

/// Keeps the file writer flushing until dropped (at the end of `main`).
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Logs to stderr (text or JSON) and, with `dir`, to daily JSON files there.
pub fn init(json_on_stderr: bool, dir: Option<&Path>) -> LogGuard {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    // Colours only for a person at a terminal: a service manager's journal or a redirected
    // file would keep the escape codes in every line.
    let stderr = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json_on_stderr {
        layers.push(stderr.json().flatten_event(true).boxed());
    } else {
        layers.push(stderr.boxed());
    }
    let mut guard = None;
    if let Some(dir) = dir {
        let appender = tracing_appender::rolling::daily(dir, FILE_PREFIX);
        let (writer, worker) = tracing_appender::non_blocking(appender);
        layers.push(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_ansi(false)
                .with_writer(writer)
                .boxed(),
        );
        guard = Some(worker);
    }
    tracing_subscriber::registry()
        .with(layers)
        .with(filter())
        .init();
    LogGuard(guard)
}

/// Writes the log lines of `kind` from `from` to `to` (JST days, inclusive) found in `dir`,
/// oldest first. Returns how many lines were written.
pub fn export(
    dir: &Path,
    kind: LogKind,
    from: NaiveDate,
    to: NaiveDate,
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    let start = chiiki_core::time::jst_day_start(from);
    let end = chiiki_core::time::jst_day_start(to + chrono::Days::new(1));
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(FILE_PREFIX))
        })
        .collect();
    files.sort();
    let mut written = 0;
    for path in files {
        let file = std::io::BufReader::new(std::fs::File::open(&path)?);
        for line in file.lines() {
            let line = line?;
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let target = entry["target"].as_str().unwrap_or_default();
            let level = entry["level"].as_str().unwrap_or_default();
            let at = entry["timestamp"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            if kind.matches(target, level) && at.is_some_and(|at| start <= at && at < end) {
                writeln!(out, "{line}")?;
                written += 1;
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_picks_the_kind_and_the_jst_days_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            r#"{"timestamp":"2024-11-30T14:59:59Z","level":"INFO","target":"chiiki::access","route":"/a"}"#,
            r#"{"timestamp":"2024-11-30T15:00:00Z","level":"INFO","target":"chiiki::access","route":"/b"}"#,
            r#"{"timestamp":"2024-11-30T16:00:00Z","level":"INFO","target":"chiiki::operation","what":"refund"}"#,
            r#"{"timestamp":"2024-11-30T17:00:00Z","level":"ERROR","target":"chiiki_backend::http","message":"boom"}"#,
            "not json",
        ];
        std::fs::write(dir.path().join("chiiki.log.2024-11-30"), lines.join("\n")).unwrap();
        let day = NaiveDate::from_ymd_opt(2024, 12, 1).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            export(dir.path(), LogKind::Access, day, day, &mut out).unwrap(),
            1
        );
        assert!(String::from_utf8(out).unwrap().contains("/b"));
        let mut out = Vec::new();
        assert_eq!(
            export(dir.path(), LogKind::Failure, day, day, &mut out).unwrap(),
            1
        );
        let mut out = Vec::new();
        assert_eq!(
            export(dir.path(), LogKind::Operation, day, day, &mut out).unwrap(),
            1
        );
    }
}
