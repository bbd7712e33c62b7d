//! City staff operations over the API: charging a resident's purse at a counter, adding and
//! approving stores, creating store staff logins. Viewers may not change anything.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth, ClientIp, IdempotencyHeader};
use super::idempotent::{self, TxFuture};
use super::payments::checked_amount;
use crate::auth::{self, AuthError, PrincipalKind};
use crate::idempotency::IdempotencyKey;
use crate::ledger::{self, ChargeInput};
use crate::stores::{self, NewStore};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chiiki_core::protocol::{
    ChargeReceipt, ChargeRequest, CreateStore, CreateStoreStaff, ErrorBody, StoreDetail,
    StoreStaffCreated, StoreStatus,
};

/// The audit entry of a staff action over the API.
pub(super) fn audit(who: &auth::Principal, ip: &str, action: &str) -> crate::audit::Action {
    crate::audit::Action::new(who.actor(), ip, action)
}

fn require_operator(who: &auth::Principal) -> Result<(), ApiError> {
    if who.kind != PrincipalKind::Staff {
        return Err(AuthError::Forbidden.into());
    }
    Ok(who.require_operator()?)
}

#[utoipa::path(post, path = "/api/v1/admin/charges", request_body = ChargeRequest,
    security(("bearer" = [])), params(("Idempotency-Key" = String, Header)),
    responses((status = 201, body = ChargeReceipt), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn charge(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    IdempotencyHeader(raw_key): IdempotencyHeader,
    ApiJson(req, body): ApiJson<ChargeRequest>,
) -> Result<Response, ApiError> {
    require_operator(&who)?;
    let key = IdempotencyKey::new(
        &who.actor(),
        raw_key.as_deref(),
        "POST /api/v1/admin/charges",
        &body,
    )?;
    let amount = checked_amount(req.amount, state.programme.max_charge)?;
    let receipt_number = req.receipt_number.trim().to_string();
    if receipt_number.is_empty() || receipt_number.len() > 64 {
        return Err(ApiError::invalid_field(
            "receipt_number",
            "受付番号を64文字以内で入力してください。",
        ));
    }
    let actor = who.actor();
    let now = state.clock.now();
    let entry = audit(&who, &ip, "resident.charge")
        .target(format!("resident:{}", req.resident_id))
        .detail(serde_json::json!({ "amount": amount.get(), "receipt_number": receipt_number }));
    let response = idempotent::run(
        &state,
        &key,
        StatusCode::CREATED,
        move |tx| -> TxFuture<'_, _> {
            Box::pin(async move {
                let input = ChargeInput {
                    resident_id: req.resident_id,
                    amount,
                    method: req.method,
                    receipt_number: &receipt_number,
                    actor: &actor,
                };
                let receipt = ledger::charge(tx, input, now).await?;
                crate::audit::record_in(tx, &entry, now).await?;
                let id = receipt.charge_id;
                Ok((receipt, id))
            })
        },
    )
    .await?;
    tracing::info!(
        target: crate::ops::logs::OPERATION,
        staff = who.id,
        resident_id = req.resident_id,
        amount = amount.get(),
        "charge"
    );
    Ok(response)
}

#[utoipa::path(post, path = "/api/v1/admin/stores", request_body = CreateStore, security(("bearer" = [])),
    responses((status = 201, body = StoreDetail), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_store(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiJson(req, _): ApiJson<CreateStore>,
) -> Result<(StatusCode, Json<StoreDetail>), ApiError> {
    require_operator(&who)?;
    let new = NewStore::parse(&req, &state.programme)?;
    let now = state.clock.now();
    let store = stores::create(&state.db, &new, now).await?;
    let entry = audit(&who, &ip, "store.create")
        .target(format!("store:{}", store.id))
        .detail(serde_json::json!({ "name": store.name }));
    crate::audit::record_after(&state.db, entry, now).await;
    tracing::info!(target: crate::ops::logs::CHANGE, staff = who.id, store_id = store.id, "store created");
    Ok((StatusCode::CREATED, Json(store)))
}

#[utoipa::path(post, path = "/api/v1/admin/stores/{id}/approve", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = StoreDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve_store(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<StoreDetail>, ApiError> {
    require_operator(&who)?;
    let now = state.clock.now();
    let before = stores::detail(&state.db, id).await?.status;
    let store = stores::transition(&state.db, id, StoreStatus::Approved, now).await?;
    let entry = audit(&who, &ip, "store.approve")
        .target(format!("store:{id}"))
        .detail(serde_json::json!({ "from": stores::status_name(before), "to": "approved" }));
    crate::audit::record_after(&state.db, entry, now).await;
    tracing::info!(target: crate::ops::logs::CHANGE, staff = who.id, store_id = id, "store approved");
    Ok(Json(store))
}

#[utoipa::path(post, path = "/api/v1/admin/stores/{id}/staff", request_body = CreateStoreStaff,
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 201, body = StoreStaffCreated), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_store_staff(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req, _): ApiJson<CreateStoreStaff>,
) -> Result<(StatusCode, Json<StoreStaffCreated>), ApiError> {
    require_operator(&who)?;
    stores::detail(&state.db, id).await?;
    auth::create_store_staff(
        &state.db,
        id,
        req.login.trim(),
        &req.password,
        state.settings.hash_cost,
        state.clock.now(),
    )
    .await?;
    let entry = audit(&who, &ip, "store.staff_login_create")
        .target(format!("store:{id}"))
        .detail(serde_json::json!({ "login": req.login.trim() }));
    crate::audit::record_after(&state.db, entry, state.clock.now()).await;
    tracing::info!(target: crate::ops::logs::CHANGE, staff = who.id, store_id = id, "store staff login created");
    Ok((
        StatusCode::CREATED,
        Json(StoreStaffCreated {
            store_id: id,
            login: req.login.trim().to_string(),
        }),
    ))
}
