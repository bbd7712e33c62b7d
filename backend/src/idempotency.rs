//! Idempotency keys: a client that repeats a value-moving request with the same key gets the
//! first response again and nothing moves twice; the same key with a different request is a
//! conflict. Keys are scoped per caller, so two residents can never collide.
//!
//! A key is claimed inside the transaction that moves the value and completed with the
//! response before commit, so "moved" and "remembered" are one atomic fact.

use crate::clock::to_millis;
use crate::crypto::sha256_hex;
use crate::db::{Db, Tx, padded, value_rows};
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use std::collections::HashSet;

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("the Idempotency-Key header is missing")]
    Missing,
    #[error("the Idempotency-Key header must be 1-255 visible ASCII characters")]
    Invalid,
    #[error("this Idempotency-Key was used for a different request")]
    Conflict,
    #[error("idempotency keys are inconsistent: {0}")]
    Inconsistent(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A response remembered under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// A validated key, bound to its caller and to a fingerprint of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    scope: String,
    key: String,
    request_hash: String,
}

/// Claim placeholder: the row exists but the transaction that wrote it has not finished.
const PENDING: i64 = 0;

impl IdempotencyKey {
    /// `request` fingerprints what is asked: the route and the parsed body (re-serialised, so
    /// whitespace or field order do not matter).
    pub fn new(
        scope: &str,
        raw_key: Option<&str>,
        route: &str,
        body: &serde_json::Value,
    ) -> Result<IdempotencyKey, IdempotencyError> {
        let key = raw_key.ok_or(IdempotencyError::Missing)?;
        if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(IdempotencyError::Invalid);
        }
        let fingerprint = format!("{route}\n{body}");
        Ok(IdempotencyKey {
            scope: scope.to_string(),
            key: key.to_string(),
            request_hash: sha256_hex(fingerprint.as_bytes()),
        })
    }

    /// Whether `other` is the same caller's same key, for this request or another.
    pub fn same_key(&self, other: &IdempotencyKey) -> bool {
        self.scope == other.scope && self.key == other.key
    }

    async fn existing<'e, E>(&self, exec: E) -> Result<Option<StoredResponse>, IdempotencyError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        let row = sqlx::query_as::<_, (String, i64, String)>(
            "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
        )
        .bind(&self.scope)
        .bind(&self.key)
        .fetch_optional(exec)
        .await?;
        match row {
            None => Ok(None),
            Some((hash, _, _)) if hash != self.request_hash => Err(IdempotencyError::Conflict),
            Some((_, status, body)) => Ok(Some(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                body,
            })),
        }
    }

    /// A cheap look before doing any work (PIN checks): on a reader, so that it never waits
    /// for SQLite's single writer. It sees every commit made before it starts; a request
    /// still in flight under the same key is found by the claim in the transaction.
    pub async fn lookup(&self, db: &Db) -> Result<Option<StoredResponse>, IdempotencyError> {
        self.existing(db.reader()).await
    }

    /// Claims the key inside `tx`. `Some` means it was already used: replay that response. A
    /// concurrent claim of the same key waits for the first transaction (PostgreSQL's unique
    /// index, SQLite's single writer) and then sees its result.
    pub async fn claim(
        &self,
        tx: &mut Tx,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredResponse>, IdempotencyError> {
        let mut claims = claim_many(tx, &[self], now).await?;
        claims.pop().unwrap_or_else(|| {
            Err(IdempotencyError::Inconsistent(
                "a claim went missing".into(),
            ))
        })
    }

    /// Records the response of a claimed key, in the same transaction as the work.
    pub async fn complete(
        &self,
        tx: &mut Tx,
        response: &StoredResponse,
        operation_id: Option<i64>,
    ) -> Result<(), IdempotencyError> {
        complete_many(tx, &[(self, response, operation_id)]).await
    }

    /// Remembers a refusal (wrong PIN, insufficient balance, …) whose transaction rolled back,
    /// so a repeat gets the same answer. If another request stored an answer first, that one
    /// wins and is returned.
    pub async fn remember_refusal(
        &self,
        db: &Db,
        response: &StoredResponse,
        now: DateTime<Utc>,
    ) -> Result<StoredResponse, IdempotencyError> {
        let mut conn = db.writer().acquire().await?;
        self.remember_refusal_on(&mut conn, response, now).await
    }

    /// [`IdempotencyKey::remember_refusal`] on a connection that may be inside a transaction
    /// (group commit keeps a refusal in the batch's transaction, after its savepoint rolled
    /// back).
    pub async fn remember_refusal_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        response: &StoredResponse,
        now: DateTime<Utc>,
    ) -> Result<StoredResponse, IdempotencyError> {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(&self.scope)
        .bind(&self.key)
        .bind(&self.request_hash)
        .bind(i64::from(response.status))
        .bind(&response.body)
        .bind(to_millis(now))
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(response.clone());
        }
        Ok(self
            .existing(&mut *conn)
            .await?
            .unwrap_or_else(|| response.clone()))
    }
}

/// Claims several distinct keys in one statement (a batch of payments). Per key, in the
/// order given: `Ok(None)` claimed now, `Ok(Some)` used before (replay it), `Err(Conflict)`
/// used before for another request. The outer error is the database's.
///
/// Rows go in sorted by key, so two transactions claiming overlapping keys on PostgreSQL wait
/// for each other in one order and never deadlock.
pub async fn claim_many(
    tx: &mut Tx,
    keys: &[&IdempotencyKey],
    now: DateTime<Utc>,
) -> Result<Vec<Result<Option<StoredResponse>, IdempotencyError>>, IdempotencyError> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| (&keys[a].scope, &keys[a].key).cmp(&(&keys[b].scope, &keys[b].key)));
    let rows = padded(keys.len());
    let sql = format!(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at)
         SELECT column1, column2, column3, {PENDING}, '', $1 FROM (VALUES {}) AS claims
         WHERE column1 IS NOT NULL
         ON CONFLICT (scope, key) DO NOTHING RETURNING scope, key",
        value_rows(2, rows, 3)
    );
    let mut insert = sqlx::query_as::<_, (String, String)>(AssertSqlSafe(sql)).bind(to_millis(now));
    for &i in &order {
        let key = keys[i];
        insert = insert
            .bind(key.scope.as_str())
            .bind(key.key.as_str())
            .bind(key.request_hash.as_str());
    }
    for _ in keys.len()..rows {
        insert = insert
            .bind(None::<String>)
            .bind(None::<String>)
            .bind(None::<String>);
    }
    let claimed: HashSet<(String, String)> =
        insert.fetch_all(&mut **tx).await?.into_iter().collect();
    let mut results = Vec::with_capacity(keys.len());
    for key in keys {
        // Borrowed lookups would need a tuple of references; the set is a batch's size.
        if claimed.contains(&(key.scope.clone(), key.key.clone())) {
            results.push(Ok(None));
        } else {
            // Used before: rare (a retry), so one look each.
            results.push(key.existing(&mut **tx).await);
        }
    }
    Ok(results)
}

/// Records the responses of claimed keys (with the operation each created), in the
/// transaction that claimed them.
pub async fn complete_many(
    tx: &mut Tx,
    completed: &[(&IdempotencyKey, &StoredResponse, Option<i64>)],
) -> Result<(), IdempotencyError> {
    let rows = padded(completed.len());
    let sql = format!(
        "UPDATE idempotency_keys SET status = done.column3, body = done.column4,
             operation_id = done.column5
         FROM (VALUES {}) AS done
         WHERE idempotency_keys.scope = done.column1 AND idempotency_keys.key = done.column2",
        value_rows(1, rows, 5)
    );
    let mut update = sqlx::query(AssertSqlSafe(sql));
    for (key, response, operation_id) in completed {
        update = update
            .bind(key.scope.as_str())
            .bind(key.key.as_str())
            .bind(i64::from(response.status))
            .bind(response.body.as_str())
            .bind(*operation_id);
    }
    for _ in completed.len()..rows {
        update = update
            .bind(None::<String>)
            .bind(None::<String>)
            .bind(None::<i64>)
            .bind(None::<String>)
            .bind(None::<i64>);
    }
    let done = update.execute(&mut **tx).await?;
    if done.rows_affected() != completed.len() as u64 {
        return Err(IdempotencyError::Inconsistent(format!(
            "completed {} of {} claimed keys",
            done.rows_affected(),
            completed.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprints_ignore_formatting_but_not_content() {
        let a =
            IdempotencyKey::new("resident:1", Some("k"), "POST /p", &json!({"a":1,"b":2})).unwrap();
        let b =
            IdempotencyKey::new("resident:1", Some("k"), "POST /p", &json!({"b":2,"a":1})).unwrap();
        let c =
            IdempotencyKey::new("resident:1", Some("k"), "POST /p", &json!({"a":1,"b":3})).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.request_hash, c.request_hash);
    }

    #[test]
    fn keys_must_be_present_and_printable() {
        let body = json!({});
        assert!(matches!(
            IdempotencyKey::new("s", None, "r", &body),
            Err(IdempotencyError::Missing)
        ));
        assert!(matches!(
            IdempotencyKey::new("s", Some(""), "r", &body),
            Err(IdempotencyError::Invalid)
        ));
        assert!(matches!(
            IdempotencyKey::new("s", Some("a b"), "r", &body),
            Err(IdempotencyError::Invalid)
        ));
    }
}
