//! Idempotency keys: a client that repeats a value-moving request with the same key gets the
//! first response again and nothing moves twice; the same key with a different request is a
//! conflict. Keys are scoped per caller, so two residents can never collide.
//!
//! A key is claimed inside the transaction that moves the value and completed with the
//! response before commit, so "moved" and "remembered" are one atomic fact.

use crate::clock::to_millis;
use crate::crypto::sha256_hex;
use crate::db::{Db, Tx};
use chrono::{DateTime, Utc};

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
