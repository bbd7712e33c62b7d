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
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("the Idempotency-Key header is missing")]
    Missing,
    #[error("the Idempotency-Key header must be 1-255 visible ASCII characters")]
    Invalid,
    #[error("this Idempotency-Key was used for a different request")]
    Conflict,
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

/// A validated key and the fingerprint of its request, before the caller is known (a
/// payment's caller is resolved inside its batch's transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    key: String,
    request_hash: String,
}

impl RequestKey {
    /// `request` fingerprints what is asked: the route and the parsed body (re-serialised, so
    /// whitespace or field order do not matter).
    pub fn new(
        raw_key: Option<&str>,
        route: &str,
        body: &serde_json::Value,
    ) -> Result<RequestKey, IdempotencyError> {
        let key = raw_key.ok_or(IdempotencyError::Missing)?;
        if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(IdempotencyError::Invalid);
        }
        let fingerprint = format!("{route}\n{body}");
        Ok(RequestKey {
            key: key.to_string(),
            request_hash: sha256_hex(fingerprint.as_bytes()),
        })
    }

    /// The key of this caller (`resident:12`).
    pub fn scoped(&self, scope: &str) -> IdempotencyKey {
        IdempotencyKey {
            scope: scope.to_string(),
            key: self.key.clone(),
            request_hash: self.request_hash.clone(),
        }
    }
}

/// Claim placeholder: the row exists but the transaction that wrote it has not finished.
const PENDING: i64 = 0;

impl IdempotencyKey {
    /// [`RequestKey::new`] for a known caller.
    pub fn new(
        scope: &str,
        raw_key: Option<&str>,
        route: &str,
        body: &serde_json::Value,
    ) -> Result<IdempotencyKey, IdempotencyError> {
        Ok(RequestKey::new(raw_key, route, body)?.scoped(scope))
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
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at)
             VALUES ($1, $2, $3, $4, '', $5) ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(&self.scope)
        .bind(&self.key)
        .bind(&self.request_hash)
        .bind(PENDING)
        .bind(to_millis(now))
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(None);
        }
        self.existing(&mut **tx).await
    }

    /// Records the response of a claimed key, in the same transaction as the work.
    pub async fn complete(
        &self,
        tx: &mut Tx,
        response: &StoredResponse,
        operation_id: Option<i64>,
    ) -> Result<(), IdempotencyError> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, body = $2, operation_id = $3
             WHERE scope = $4 AND key = $5",
        )
        .bind(i64::from(response.status))
        .bind(&response.body)
        .bind(operation_id)
        .bind(&self.scope)
        .bind(&self.key)
        .execute(&mut **tx)
        .await?;
        Ok(())
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

/// What a batch found under its keys before doing any work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Never used: do the work, then [`remember_many`].
    New,
    /// Used before for this request: replay the answer.
    Answered(StoredResponse),
}

/// Looks up several distinct keys in one statement (a batch of payments, before its work).
/// Per key, in the order given: what it holds, or `Err(Conflict)` when it was used for
/// another request. The outer error is the database's.
///
/// Unlike [`IdempotencyKey::claim`] nothing is written yet, so a batch writes each key once,
/// with its answer: no placeholder row to update, no dead row versions behind. A request in
/// flight under the same key elsewhere is caught when the answers are stored.
pub async fn lookup_many(
    tx: &mut Tx,
    keys: &[&IdempotencyKey],
) -> Result<Vec<Result<Found, IdempotencyError>>, IdempotencyError> {
    // A join with the wanted pairs: both engines probe the primary key once per pair (an
    // `IN` list of pairs becomes a slow bitmap OR on PostgreSQL).
    let rows = padded(keys.len());
    let sql = format!(
        "SELECT k.scope, k.key, k.request_hash, k.status, k.body
         FROM (VALUES {}) AS wanted
         JOIN idempotency_keys k ON k.scope = wanted.column1 AND k.key = wanted.column2",
        value_rows(1, rows, 2)
    );
    let mut query = sqlx::query_as::<_, (String, String, String, i64, String)>(AssertSqlSafe(sql));
    for key in keys {
        query = query.bind(key.scope.as_str()).bind(key.key.as_str());
    }
    for _ in keys.len()..rows {
        query = query.bind(None::<String>).bind(None::<String>);
    }
    let mut stored: HashMap<(String, String), (String, i64, String)> = query
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|(scope, key, hash, status, body)| ((scope, key), (hash, status, body)))
        .collect();
    Ok(keys
        .iter()
        .map(
            |key| match stored.remove(&(key.scope.clone(), key.key.clone())) {
                None => Ok(Found::New),
                Some((hash, _, _)) if hash != key.request_hash => Err(IdempotencyError::Conflict),
                Some((_, status, body)) => Ok(Found::Answered(StoredResponse {
                    status: u16::try_from(status).unwrap_or(500),
                    body,
                })),
            },
        )
        .collect())
}

/// Stores the answers of keys that [`lookup_many`] found new, in one statement, in the
/// transaction that did their work. Rows go in sorted by key, so two transactions storing
/// overlapping keys on PostgreSQL wait for each other in one order and never deadlock.
///
/// Returns whether every answer was stored. `false` means another transaction stored one of
/// these keys after the lookup (the same request, delivered twice, in flight in another batch
/// or on another server): this transaction must then be rolled back and run again, when the
/// lookup will find that answer.
pub async fn remember_many(
    tx: &mut Tx,
    answers: &[(&IdempotencyKey, &StoredResponse, Option<i64>)],
    now: DateTime<Utc>,
) -> Result<bool, IdempotencyError> {
    let mut order: Vec<usize> = (0..answers.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (answers[a].0, answers[b].0);
        (&a.scope, &a.key).cmp(&(&b.scope, &b.key))
    });
    let rows = padded(answers.len());
    let sql = format!(
        "INSERT INTO idempotency_keys
             (scope, key, request_hash, status, body, operation_id, created_at)
         SELECT column1, column2, column3, column4, column5, column6, $1
         FROM (VALUES {}) AS answers WHERE column1 IS NOT NULL
         ON CONFLICT (scope, key) DO NOTHING",
        value_rows(2, rows, 6)
    );
    let mut insert = sqlx::query(AssertSqlSafe(sql)).bind(to_millis(now));
    for &i in &order {
        let (key, response, operation_id) = answers[i];
        insert = insert
            .bind(key.scope.as_str())
            .bind(key.key.as_str())
            .bind(key.request_hash.as_str())
            .bind(i64::from(response.status))
            .bind(response.body.as_str())
            .bind(operation_id);
    }
    for _ in answers.len()..rows {
        insert = insert
            .bind(None::<String>)
            .bind(None::<String>)
            .bind(None::<String>)
            .bind(None::<i64>)
            .bind(None::<String>)
            .bind(None::<i64>);
    }
    let stored = insert.execute(&mut **tx).await?;
    Ok(stored.rows_affected() == answers.len() as u64)
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
