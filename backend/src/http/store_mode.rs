//! Store mode over HTTP, for store staff: charge a resident's code, the live feed of payments
//! (server-sent events), and a day's sales. Refunds are `payments::refund` (with the age rule
//! for store staff).

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Auth, IdempotencyHeader};
use super::idempotent::{self, TxFuture};
use super::payments::checked_amount;
use crate::auth::{AuthError, Principal, PrincipalKind};
use crate::idempotency::IdempotencyKey;
use crate::store_mode::{self, AfterCommit};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chiiki_core::protocol::{
    ErrorBody, StoreChargeReceipt, StoreChargeRequest, StoreEventKind, StorePaymentEvent,
    StoreSales, StoreSalesQuery,
};
use chiiki_core::time::jst_date;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// The store of a signed-in member of store staff.
pub fn store_of(who: &Principal) -> Result<i64, ApiError> {
    match (who.kind, who.store_id) {
        (PrincipalKind::StoreStaff, Some(store_id)) => Ok(store_id),
        _ => Err(AuthError::Forbidden.into()),
    }
}

#[utoipa::path(post, path = "/api/v1/store/charges", request_body = StoreChargeRequest,
    security(("bearer" = [])), params(("Idempotency-Key" = String, Header)),
    responses((status = 201, body = StoreChargeReceipt), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn charge(
    State(state): State<AppState>,
    Auth(who): Auth,
    IdempotencyHeader(raw_key): IdempotencyHeader,
    ApiJson(req, body): ApiJson<StoreChargeRequest>,
) -> Result<Response, ApiError> {
    let store_id = store_of(&who)?;
    let key = IdempotencyKey::new(
        &who.actor(),
        raw_key.as_deref(),
        "POST /api/v1/store/charges",
        &body,
    )?;
    if let Some(previous) = key.lookup(&state.db).await? {
        return Ok(idempotent::stored(previous));
    }
    let rules = state.programme.store_rules;
    let amount = checked_amount(req.amount, rules.resident_code_max_payment)?;
    let now = state.clock.now();
    let code = match store_mode::verify_code(&state.db, &req.payload, &rules, now).await {
        Ok(code) => code,
        Err(e) => return idempotent::refuse(&state, &key, e.into()).await,
    };
    let programme = state.programme.clone();
    let actor = who.actor();
    let after_commit = AfterCommit::default();
    let announce = after_commit.clone();
    let response = idempotent::run(
        &state,
        &key,
        StatusCode::CREATED,
        move |tx| -> TxFuture<'_, _> {
            Box::pin(async move {
                let receipt =
                    store_mode::charge(tx, &code, store_id, &actor, amount, &programme, now)
                        .await?;
                announce.set(StorePaymentEvent {
                    kind: StoreEventKind::Payment,
                    payment_id: receipt.payment_id,
                    refund_id: None,
                    store_id,
                    amount,
                    created_at: now,
                    message: receipt.message.clone(),
                });
                let id = receipt.payment_id;
                Ok((receipt, id))
            })
        },
    )
    .await?;
    after_commit.publish(&state.stores.feed);
    tracing::info!(store_id, amount = amount.get(), status = %response.status(), "resident code charged");
    Ok(response)
}

/// `GET /api/v1/store/payments/stream`: server-sent events, one `payment` or `refund` event
/// (JSON [`StorePaymentEvent`]) as each lands at the caller's store; `resync` when the stream
/// fell behind and the app should reload the day's sales. Comments keep the connection alive.
#[utoipa::path(get, path = "/api/v1/store/payments/stream", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", body = StorePaymentEvent),
              (status = 403, body = ErrorBody)))]
pub async fn stream(State(state): State<AppState>, Auth(who): Auth) -> Result<Response, ApiError> {
    let store_id = store_of(&who)?;
    let receiver = state.stores.feed.subscribe();
    // A stream ends when the server starts draining, so that shutdown does not wait for it
    // (the app reconnects to another server).
    let draining = state.draining.clone();
    let events = futures_util::stream::unfold(receiver, move |mut receiver| {
        let draining = draining.clone();
        async move {
            loop {
                if draining.load(std::sync::atomic::Ordering::SeqCst) {
                    return None;
                }
                let received = tokio::select! {
                    received = receiver.recv() => received,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                };
                match received {
                    Ok(event) if event.store_id == store_id => {
                        let name = match event.kind {
                            StoreEventKind::Payment => "payment",
                            StoreEventKind::Refund => "refund",
                        };
                        let sse = Event::default()
                            .event(name)
                            .json_data(&event)
                            .unwrap_or_else(|_| Event::default().event("resync"));
                        return Some((Ok::<_, Infallible>(sse), receiver));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => {
                        return Some((Ok(Event::default().event("resync").data("{}")), receiver));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/store/payments", params(StoreSalesQuery), security(("bearer" = [])),
    responses((status = 200, body = StoreSales), (status = 403, body = ErrorBody)))]
pub async fn sales(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(query): ApiQuery<StoreSalesQuery>,
) -> Result<Json<StoreSales>, ApiError> {
    let store_id = store_of(&who)?;
    let date = query.date.unwrap_or_else(|| jst_date(state.clock.now()));
    Ok(Json(store_mode::sales(&state.db, store_id, date).await?))
}
