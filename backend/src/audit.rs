//! The staff audit log: every staff action (sign-ins and failed sign-ins, approvals, refunds,
//! draws, exports, unlocks, settlement marks) as an append-only, hash-chained entry with who,
//! when (UTC), from where and what changed.
//!
//! Each entry's `hash` is the SHA-256 of its fields and of the previous entry's hash, so that
//! [`verify`] finds an edited entry (its hash no longer matches), a removed one (the sequence
//! or the chain breaks) and entries cut from the end (the head row disagrees). The database
//! refuses UPDATE and DELETE on the table (triggers); verification catches anyone who gets
//! round that. Appends take the head row's lock, so entries never race for a number.
//!
//! Must never update or delete an entry, and never hold personal data beyond ids: the log is
//! exported and read by people who need not see names.

use crate::clock::{from_millis, to_millis};
use crate::crypto::sha256_hex;
use crate::db::{Db, Tx};
use chrono::{DateTime, Utc};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit head row is missing (is the schema migrated?)")]
    NoHead,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What a staff member did, before it is numbered and chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// `staff:3`, or the login typed at a failed sign-in (`login:adm1n`).
    pub actor: String,
    pub ip: String,
    /// A short, stable name: `store.approve`, `payment.refund`, `console.login_failed`.
    pub action: String,
    /// What it acted on: `store:12`, `payment:40`, `settlement:2024-11`.
    pub target: String,
    /// What changed, as a JSON object.
    pub detail: serde_json::Value,
}

impl Action {
    pub fn new(actor: impl Into<String>, ip: impl Into<String>, action: &str) -> Action {
        Action {
            actor: actor.into(),
            ip: ip.into(),
            action: action.to_string(),
            target: String::new(),
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Action {
        self.target = target.into();
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Action {
        self.detail = detail;
        self
    }
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub ip: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    pub fn at(&self) -> DateTime<Utc> {
        from_millis(self.at)
    }

    /// The hash this entry should carry, computed from its fields.
    pub fn expected_hash(&self) -> String {
        entry_hash(
            self.seq,
            self.at,
            &self.actor,
            &self.ip,
            &self.action,
            &self.target,
            &self.detail,
            &self.prev_hash,
        )
    }
}

/// SHA-256 over the fields, each length-prefixed so that no two different entries hash the
/// same bytes (moving text from one field to the next changes the input).
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    seq: i64,
    at: i64,
    actor: &str,
    ip: &str,
    action: &str,
    target: &str,
    detail: &str,
    prev_hash: &str,
) -> String {
    let mut bytes = b"chiiki-audit-v1".to_vec();
    for field in [
        seq.to_string().as_str(),
        at.to_string().as_str(),
        actor,
        ip,
        action,
        target,
        detail,
        prev_hash,
    ] {
        bytes.extend_from_slice(&(field.len() as u64).to_be_bytes());
        bytes.extend_from_slice(field.as_bytes());
    }
    sha256_hex(&bytes)
}

/// Appends `action` inside the caller's transaction, so that it is recorded exactly when the
/// action commits. Returns the entry's number.
pub async fn record_in(
    tx: &mut Tx,
    action: &Action,
    now: DateTime<Utc>,
) -> Result<i64, AuditError> {
    // The UPDATE takes the head row's lock (PostgreSQL) and returns the new number with the
    // previous hash, which is not changed until below.
    let (seq, prev_hash) = sqlx::query_as::<_, (i64, String)>(
        "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AuditError::NoHead)?;
    let at = to_millis(now);
    let detail = action.detail.to_string();
    let hash = entry_hash(
        seq,
        at,
        &action.actor,
        &action.ip,
        &action.action,
        &action.target,
        &detail,
        &prev_hash,
    );
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, ip, action, target, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq)
    .bind(at)
    .bind(&action.actor)
    .bind(&action.ip)
    .bind(&action.action)
    .bind(&action.target)
    .bind(&detail)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    Ok(seq)
}

/// Appends `action` in a transaction of its own (for actions whose domain function commits
/// by itself). Never call it while holding a transaction: on SQLite that would deadlock.
pub async fn record(db: &Db, action: &Action, now: DateTime<Utc>) -> Result<i64, AuditError> {
    let mut tx = db.begin().await?;
    let seq = record_in(&mut tx, action, now).await?;
    tx.commit().await?;
    Ok(seq)
}

/// Like [`record`], for after an action that already happened: a failure to write the entry
/// is logged as a failure rather than undoing the answer the caller already has.
pub async fn record_after(db: &Db, action: Action, now: DateTime<Utc>) {
    if let Err(e) = record(db, &action, now).await {
        tracing::error!(target: crate::ops::logs::FAILURE, action = %action.action, error = %e, "audit entry not written");
    }
}

/// What to show: newest first, optionally one action kind or actor, a page at a time.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub limit: i64,
    pub before_seq: Option<i64>,
}

pub async fn list(db: &Db, filter: &Filter) -> Result<Vec<Entry>, AuditError> {
    let rows = sqlx::query_as::<_, Entry>(
        "SELECT seq, at, actor, ip, action, target, detail, prev_hash, hash FROM audit_log
         WHERE ($1 = '' OR action = $1) AND ($2 = '' OR actor = $2) AND seq < $3
         ORDER BY seq DESC LIMIT $4",
    )
    .bind(filter.action.as_deref().unwrap_or(""))
    .bind(filter.actor.as_deref().unwrap_or(""))
    .bind(filter.before_seq.unwrap_or(i64::MAX))
    .bind(filter.limit.clamp(1, 10_000))
    .fetch_all(db.reader())
    .await?;
    Ok(rows)
}

/// Every entry, oldest first.
pub async fn all(db: &Db) -> Result<Vec<Entry>, AuditError> {
    Ok(sqlx::query_as::<_, Entry>(
        "SELECT seq, at, actor, ip, action, target, detail, prev_hash, hash FROM audit_log
         ORDER BY seq",
    )
    .fetch_all(db.writer())
    .await?)
}

/// A way the log was found altered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The entry's fields do not give its hash: it was edited.
    Edited { seq: i64 },
    /// The entry does not carry the previous entry's hash (one was removed or replaced).
    BrokenLink { seq: i64 },
    /// Numbers are missing between two entries: entries were removed.
    Missing { from: i64, to: i64 },
    /// The head says there are more (or other) entries than the table holds.
    HeadMismatch { head_seq: i64, last_seq: i64 },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Edited { seq } => {
                write!(f, "entry {seq} was edited (its hash does not match)")
            }
            Problem::BrokenLink { seq } => write!(
                f,
                "entry {seq} does not follow the previous entry's hash (an entry was removed or replaced)"
            ),
            Problem::Missing { from, to } => write!(f, "entries {from}–{to} are missing"),
            Problem::HeadMismatch { head_seq, last_seq } => write!(
                f,
                "the log ends at entry {last_seq} but {head_seq} were written (entries were removed from the end)"
            ),
        }
    }
}

/// Checks a chain, oldest first, against the head (`head_seq`, `head_hash`). Pure: what
/// [`verify`] does once it has read the table.
pub fn check_chain(entries: &[Entry], head_seq: i64, head_hash: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS.to_string();
    for entry in entries {
        if entry.seq != expected_seq {
            problems.push(Problem::Missing {
                from: expected_seq,
                to: entry.seq - 1,
            });
        }
        if entry.expected_hash() != entry.hash {
            problems.push(Problem::Edited { seq: entry.seq });
        }
        if entry.prev_hash != prev_hash {
            problems.push(Problem::BrokenLink { seq: entry.seq });
        }
        expected_seq = entry.seq + 1;
        prev_hash = entry.hash.clone();
    }
    let last_seq = expected_seq - 1;
    if last_seq != head_seq || prev_hash != head_hash {
        problems.push(Problem::HeadMismatch { head_seq, last_seq });
    }
    problems
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: usize,
    pub problems: Vec<Problem>,
}

/// Reads the whole log and checks its chain.
pub async fn verify(db: &Db) -> Result<Verified, AuditError> {
    let entries = all(db).await?;
    let (head_seq, head_hash) =
        sqlx::query_as::<_, (i64, String)>("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(db.writer())
            .await?
            .ok_or(AuditError::NoHead)?;
    Ok(Verified {
        entries: entries.len(),
        problems: check_chain(&entries, head_seq, &head_hash),
    })
}

/// The log as CSV (UTF-8 with a BOM so that Excel reads the Japanese; times in JST), with the
/// hashes so that an exported copy can be checked too.
pub fn csv(entries: &[Entry]) -> Vec<u8> {
    let mut out = String::from(
        "\u{feff}番号,日時(JST),職員,IPアドレス,操作,対象,内容,前のハッシュ,ハッシュ\r\n",
    );
    for e in entries {
        let fields = [
            e.seq.to_string(),
            chiiki_core::time::format_jst_datetime(e.at()),
            e.actor.clone(),
            e.ip.clone(),
            e.action.clone(),
            e.target.clone(),
            e.detail.clone(),
            e.prev_hash.clone(),
            e.hash.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// Quotes a field, and defuses text a spreadsheet would run as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Entry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let mut e = Entry {
                    seq,
                    at: 1_700_000_000_000 + seq,
                    actor: "staff:1".into(),
                    ip: "127.0.0.1".into(),
                    action: "store.approve".into(),
                    target: format!("store:{seq}"),
                    detail: "{}".into(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.expected_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn head(entries: &[Entry]) -> (i64, String) {
        entries
            .last()
            .map(|e| (e.seq, e.hash.clone()))
            .unwrap_or((0, GENESIS.into()))
    }

    #[test]
    fn an_intact_chain_has_no_problems() {
        let entries = chain(5);
        let (seq, hash) = head(&entries);
        assert_eq!(check_chain(&entries, seq, &hash), vec![]);
        assert_eq!(check_chain(&[], 0, GENESIS), vec![]);
    }

    #[test]
    fn an_edited_entry_is_found() {
        let mut entries = chain(5);
        let (seq, hash) = head(&entries);
        entries[2].detail = r#"{"amount":1}"#.into();
        assert_eq!(
            check_chain(&entries, seq, &hash),
            vec![Problem::Edited { seq: 3 }]
        );
    }

    #[test]
    fn an_entry_rehashed_after_editing_breaks_the_next_link() {
        let mut entries = chain(5);
        let (seq, hash) = head(&entries);
        entries[2].actor = "staff:9".into();
        entries[2].hash = entries[2].expected_hash();
        assert_eq!(
            check_chain(&entries, seq, &hash),
            vec![Problem::BrokenLink { seq: 4 }]
        );
    }

    #[test]
    fn a_removed_entry_is_found() {
        let mut entries = chain(5);
        let (seq, hash) = head(&entries);
        entries.remove(1);
        assert_eq!(
            check_chain(&entries, seq, &hash),
            vec![
                Problem::Missing { from: 2, to: 2 },
                Problem::BrokenLink { seq: 3 }
            ]
        );
    }

    #[test]
    fn entries_cut_from_the_end_are_found() {
        let mut entries = chain(5);
        let (seq, hash) = head(&entries);
        entries.truncate(3);
        assert_eq!(
            check_chain(&entries, seq, &hash),
            vec![Problem::HeadMismatch {
                head_seq: 5,
                last_seq: 3
            }]
        );
    }

    #[test]
    fn moving_text_between_fields_changes_the_hash() {
        let a = entry_hash(1, 2, "ab", "c", "x", "", "{}", GENESIS);
        let b = entry_hash(1, 2, "a", "bc", "x", "", "{}", GENESIS);
        assert_ne!(a, b);
    }

    #[test]
    fn csv_has_a_bom_and_defuses_formulas() {
        let mut entries = chain(1);
        entries[0].target = "=HYPERLINK(\"x\")".into();
        let text = String::from_utf8(csv(&entries)).unwrap();
        assert!(text.starts_with('\u{feff}'));
        assert!(text.contains("\"'=HYPERLINK(\"\"x\"\")\""));
    }
}
