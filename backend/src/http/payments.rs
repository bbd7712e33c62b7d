//! Payments and refunds over HTTP. Both move value, so both need an Idempotency-Key.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth, ClientIp, IdempotencyHeader, SessionToken};
use super::idempotent::{self, TxFuture};
use super::payment_batch::PaymentJob;
use crate::auth::{self, PrincipalKind};
use crate::idempotency::{IdempotencyKey, RequestKey};
use crate::ledger::{self, RefundInput};
use crate::ops::access::CallerSlot;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chiiki_core::Yen;
use chiiki_core::protocol::{
    ErrorBody, ErrorCode, PaymentReceipt, PaymentRequest, RefundReceipt, RefundRequest,
};
use chiiki_core::qr;

/// Checks an amount once, at the edge: positive and not absurd.
pub fn checked_amount(amount: Yen, max: Yen) -> Result<Yen, ApiError> {
    if !amount.is_positive() {
        Err(ApiError::amount_not_positive())
    } else if amount > max {
        Err(ApiError::amount_too_large(max))
    } else {
        Ok(amount)
    }
}

/// Which store a payment names: by id, or by the payload of its scanned QR code. An amount
/// code fixes the amount too.
fn target_store(state: &AppState, req: &PaymentRequest) -> Result<i64, ApiError> {
    match (req.store_id, req.store_code.as_deref()) {
        (Some(id), None) => Ok(id),
        (None, Some(payload)) => {
            let code = qr::decode_merchant_code(payload, &state.programme.id).map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::InvalidStoreCode,
                    format!("{} / {e}", e.message_ja()),
                )
            })?;
            if code.amount.is_some_and(|fixed| fixed != req.amount) {
                return Err(ApiError::invalid_field(
                    "amount",
                    "読み取ったQRコードの金額と違います。",
                ));
            }
            Ok(code.store_id)
        }
        _ => Err(ApiError::invalid_field(
            "store_id",
            "store_id か store_code のどちらか一方を指定してください。",
        )),
    }
}

#[utoipa::path(post, path = "/api/v1/payments", request_body = PaymentRequest, security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header)),
    responses((status = 201, body = PaymentReceipt), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 423, body = ErrorBody)))]
pub async fn pay(
    State(state): State<AppState>,
    SessionToken(session): SessionToken,
    IdempotencyHeader(raw_key): IdempotencyHeader,
    caller: Option<Extension<CallerSlot>>,
    ApiJson(req, body): ApiJson<PaymentRequest>,
) -> Result<Response, ApiError> {
    let key = RequestKey::new(raw_key.as_deref(), "POST /api/v1/payments", &body)?;
    let amount = checked_amount(req.amount, state.programme.max_payment)?;
    let store_id = target_store(&state, &req)?;
    // Who pays, the key, the PIN and the payment are checked in the batch's transaction, in
    // that order: a retry answers what the first attempt answered and counts no PIN twice.
    let job = PaymentJob {
        session,
        key,
        store_id,
        amount,
        use_points: req.use_points.unwrap_or(false),
        pin: req.pin,
    };
    let paid = state.group_commit.pay(&state, job).await?;
    if let Some(Extension(slot)) = caller {
        slot.set(format!("resident:{}", paid.resident_id));
    }
    let resident_id = paid.resident_id;
    let response = idempotent::stored(paid.response);
    let outcome = if response.status().is_success() {
        "accepted"
    } else {
        "refused"
    };
    crate::ops::metrics::record_payment(outcome, amount.get());
    if let Some(receipt) = &paid.receipt {
        state
            .stores
            .feed
            .publish(crate::store_mode::feed::payment_event(receipt));
    }
    tracing::info!(resident_id, store_id, amount = amount.get(), status = %response.status(), "payment");
    Ok(response)
}

#[utoipa::path(post, path = "/api/v1/payments/{id}/refunds", request_body = RefundRequest,
    security(("bearer" = [])), params(("id" = i64, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 201, body = RefundReceipt), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn refund(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(payment_id): ApiPath<i64>,
    IdempotencyHeader(raw_key): IdempotencyHeader,
    ApiJson(req, body): ApiJson<RefundRequest>,
) -> Result<Response, ApiError> {
    let only_store = match who.kind {
        PrincipalKind::StoreStaff => who.store_id,
        PrincipalKind::Staff => {
            who.require_operator()?;
            None
        }
        PrincipalKind::Resident => return Err(auth::AuthError::Forbidden.into()),
    };
    let route = format!("POST /api/v1/payments/{payment_id}/refunds");
    let key = IdempotencyKey::new(&who.actor(), raw_key.as_deref(), &route, &body)?;
    let amount = checked_amount(req.amount, state.programme.max_payment)?;
    let reason = req.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::invalid_field(
            "reason",
            "返金の理由を200文字以内で入力してください。",
        ));
    }
    let actor = who.actor();
    let now = state.clock.now();
    // Store staff refund recent payments only; older ones need city staff.
    if let Some(store_id) = only_store
        && let Err(e) = crate::store_mode::check_refund_age(
            &state.db,
            payment_id,
            store_id,
            &state.programme.store_rules,
            now,
        )
        .await
    {
        return idempotent::refuse(&state, &key, e.into()).await;
    }
    let after_commit = crate::store_mode::AfterCommit::default();
    let announce = after_commit.clone();
    tracing::info!(
        target: crate::ops::logs::OPERATION,
        actor = %actor,
        payment_id,
        amount = amount.get(),
        "refund requested"
    );
    let response = idempotent::run(
        &state,
        &key,
        StatusCode::CREATED,
        move |tx| -> TxFuture<'_, _> {
            Box::pin(async move {
                let input = RefundInput {
                    payment_id,
                    amount,
                    reason: &reason,
                    actor: &actor,
                    only_store,
                };
                let receipt = ledger::refund(tx, input, now).await?;
                // City staff's refunds are staff actions; a store's own are in its sales.
                if only_store.is_none() {
                    let entry = crate::audit::Action::new(actor.clone(), ip, "payment.refund")
                        .target(format!("payment:{payment_id}"))
                        .detail(serde_json::json!({ "amount": amount.get(), "reason": reason }));
                    crate::audit::record_in(tx, &entry, now).await?;
                }
                announce.set(crate::store_mode::feed::refund_event(tx, &receipt).await?);
                let id = receipt.refund_id;
                Ok((receipt, id))
            })
        },
    )
    .await?;
    after_commit.publish(&state.stores.feed);
    Ok(response)
}
