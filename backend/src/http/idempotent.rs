//! Running a value-moving request exactly once per idempotency key: claim the key, do the
//! work and store the response in one transaction; replay stored responses; remember
//! refusals so that a repeat gets the same answer without repeating side effects.

use super::AppState;
use super::error::ApiError;
use super::group_commit::{Lane, Work};
use crate::db::{Engine, Tx};
use crate::idempotency::{IdempotencyKey, StoredResponse};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;

pub type TxFuture<'t, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 't>>;

/// A replayed or fresh response with a JSON body that is already serialised.
pub fn stored(response: StoredResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        response.body,
    )
        .into_response()
}

pub(super) fn refusal_body(err: &ApiError) -> StoredResponse {
    StoredResponse {
        status: err.status.as_u16(),
        body: serde_json::to_string(&err.body()).unwrap_or_default(),
    }
}

/// Answers with `err` and remembers it under the key if it is the client's fault (4xx), so a
/// repeat of the same request gets the same answer. Server faults are not remembered: a retry
/// may then succeed.
pub async fn refuse(
    state: &AppState,
    key: &IdempotencyKey,
    err: ApiError,
) -> Result<Response, ApiError> {
    if !err.status.is_client_error() {
        return Err(err);
    }
    let remembered = key
        .remember_refusal(&state.db, &refusal_body(&err), state.clock.now())
        .await?;
    Ok(stored(remembered))
}

/// Runs `work` in a transaction guarded by `key`. `work` returns the response value and the
/// ledger operation it created (`None` for work that creates no ledger operation, such as
/// taking an order in the sale). On SQLite the transaction is shared with other requests
/// queued at the same moment (`group_commit`).
pub async fn run<T, O, F>(
    state: &AppState,
    key: &IdempotencyKey,
    status: StatusCode,
    work: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    O: Into<Option<i64>>,
    F: for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, (T, O)> + Send + 'static,
{
    run_in_lane(state, Lane::Till, key, status, work).await
}

/// [`run`], queued in `lane` for SQLite's writer (sale orders wait behind payments).
pub async fn run_in_lane<T, O, F>(
    state: &AppState,
    lane: Lane,
    key: &IdempotencyKey,
    status: StatusCode,
    work: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    O: Into<Option<i64>>,
    F: for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, (T, O)> + Send + 'static,
{
    if state.db.engine == Engine::Sqlite {
        let work: Work = Box::new(move |tx| {
            Box::pin(async move {
                let (value, operation_id) = work(tx).await?;
                let body = serde_json::to_string(&value).map_err(ApiError::internal)?;
                Ok((body, operation_id.into()))
            })
        });
        let response = state
            .group_commit
            .run(state, lane, key, status, work)
            .await?;
        return Ok(stored(response));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if let Some(previous) = key.claim(&mut tx, now).await? {
        tx.rollback().await?;
        return Ok(stored(previous));
    }
    match work(&mut tx).await {
        Ok((value, operation_id)) => {
            let body = serde_json::to_string(&value).map_err(ApiError::internal)?;
            let response = StoredResponse {
                status: status.as_u16(),
                body,
            };
            key.complete(&mut tx, &response, operation_id.into())
                .await?;
            tx.commit().await?;
            Ok(stored(response))
        }
        Err(err) => {
            // Roll back before remembering: on SQLite the writer pool has one connection.
            tx.rollback().await?;
            refuse(state, key, err).await
        }
    }
}
