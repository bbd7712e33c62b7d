//! The premium set sale over HTTP: residents' applications and additional-sale orders, the
//! lottery's public record, the payment provider's webhook, and staff operations (commit,
//! draw, counter payments, expiry, figures). Thin: the rules live in `crate::sale`.
//!
//! Residents' sale endpoints and the application page sit behind the admission gate, so a
//! sale-day burst waits (or is told to come back) in front of the sale, not in front of the
//! database that payments need. Staff and the provider's webhook bypass the gate.

use super::AppState;
use super::error::{ApiError, sale_busy};
use super::extract::{ApiJson, ApiPath, Auth, ClientIp, IdempotencyHeader, limit};
use super::group_commit::Lane;
use super::idempotent::{self, TxFuture};
use crate::auth::{AuthError, Principal, PrincipalKind};
use crate::idempotency::{IdempotencyKey, StoredResponse};
use crate::sale::applications::{self, SetCount};
use crate::sale::lottery::{self, Commitment, Seed};
use crate::sale::purchase::{self, Payment, PaymentReference};
use crate::sale::{Admission, SaleError, expiry};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chiiki_core::protocol::{
    ApplicationRequest, CommitRequest, CounterPaymentRequest, CounterPurchaseRequest, DrawRequest,
    ErrorBody, ExpirySummary, MySale, OrderRequest, ProviderAck, ProviderNotification, PublicDraw,
    SALE_SIGNATURE_HEADER, SaleApplication, SaleOrder, SalePaymentMethod, SalePurchaseReceipt,
    SaleSummary, paths,
};

/// The sale's routes, the residents' ones behind the admission gate.
pub fn routes(state: &AppState) -> Router<AppState> {
    let gated = Router::new()
        .route(paths::ME_SALE, get(my_sale))
        .route(paths::ME_SALE_APPLICATION, put(apply).delete(withdraw))
        .route(paths::SALE_ORDERS, post(order))
        .route(paths::SALE_DRAW, get(public_draw))
        .merge(super::sale_page::routes())
        .route_layer(middleware::from_fn_with_state(
            state.sale.admission.clone(),
            admit,
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_per_ip));
    Router::new()
        .merge(gated)
        .route(
            paths::SALE_PROVIDER_NOTIFICATIONS,
            post(provider_notification),
        )
        .route(paths::ADMIN_SALE, get(summary))
        .route(paths::ADMIN_SALE_COMMITMENT, post(commit))
        .route(paths::ADMIN_SALE_DRAW, post(draw))
        .route(paths::ADMIN_SALE_EXPIRE, post(expire))
        .route(
            "/api/v1/admin/sale/orders/{id}/counter-payment",
            post(counter_payment),
        )
        .route(paths::ADMIN_SALE_COUNTER_PURCHASES, post(counter_purchase))
}

/// One address may not take the whole admission gate.
async fn limit_per_ip(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    match limit(&state.limits.sale_per_ip, &ip, &state) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

async fn admit(State(gate): State<Admission>, request: Request, next: Next) -> Response {
    match gate.enter().await {
        Ok(admitted) => {
            let response = next.run(request).await;
            drop(admitted);
            response
        }
        Err(busy) => {
            tracing::warn!(path = %request.uri().path(), "sale admission full");
            if request.uri().path().starts_with(paths::SALE_PAGE) {
                super::sale_page::busy_page(busy)
            } else {
                sale_busy(busy).into_response()
            }
        }
    }
}

fn require_staff(who: &Principal) -> Result<(), ApiError> {
    if who.kind == PrincipalKind::Staff {
        Ok(())
    } else {
        Err(AuthError::Forbidden.into())
    }
}

fn require_operator(who: &Principal) -> Result<(), ApiError> {
    require_staff(who)?;
    Ok(who.require_operator()?)
}

// ---------------------------------------------------------------------------------------------
// Residents

#[utoipa::path(get, path = "/api/v1/me/sale", security(("bearer" = [])),
    responses((status = 200, body = MySale), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn my_sale(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<MySale>, ApiError> {
    let resident_id = who.resident_id()?;
    let sale =
        purchase::my_sale(&state.db, &state.programme, resident_id, state.clock.now()).await?;
    Ok(Json(sale))
}

#[utoipa::path(put, path = "/api/v1/me/sale/application", request_body = ApplicationRequest,
    security(("bearer" = [])),
    responses((status = 200, body = SaleApplication), (status = 422, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn apply(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(req, _): ApiJson<ApplicationRequest>,
) -> Result<Json<SaleApplication>, ApiError> {
    let resident_id = who.resident_id()?;
    limit(&state.limits.sale_per_account, &who.actor(), &state)?;
    let sets = SetCount::parse(req.sets, &state.programme)?;
    let application = applications::apply(
        &state.db,
        &state.programme,
        resident_id,
        sets,
        state.clock.now(),
    )
    .await?;
    tracing::info!(resident_id, sets = sets.get(), "sale application");
    Ok(Json(application))
}

#[utoipa::path(delete, path = "/api/v1/me/sale/application", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn withdraw(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<StatusCode, ApiError> {
    let resident_id = who.resident_id()?;
    limit(&state.limits.sale_per_account, &who.actor(), &state)?;
    applications::withdraw(&state.db, &state.programme, resident_id, state.clock.now()).await?;
    tracing::info!(resident_id, "sale application withdrawn");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/sale/orders", request_body = OrderRequest,
    security(("bearer" = [])), params(("Idempotency-Key" = String, Header)),
    responses((status = 201, body = SaleOrder), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn order(
    State(state): State<AppState>,
    Auth(who): Auth,
    IdempotencyHeader(raw_key): IdempotencyHeader,
    ApiJson(req, body): ApiJson<OrderRequest>,
) -> Result<Response, ApiError> {
    let resident_id = who.resident_id()?;
    limit(&state.limits.sale_per_account, &who.actor(), &state)?;
    let key = IdempotencyKey::new(
        &who.actor(),
        raw_key.as_deref(),
        "POST /api/v1/sale/orders",
        &body,
    )?;
    if let Some(previous) = key.lookup(&state.db).await? {
        return Ok(idempotent::stored(previous));
    }
    let programme = state.programme.clone();
    let sets = SetCount::parse(req.sets, &programme)?;
    let now = state.clock.now();
    purchase::lapse_overdue(&state.db, &programme, now).await?;
    // Most refusals of a burst are answered here, from a read, without the writer.
    purchase::precheck_order(&state.db, &programme, resident_id, sets, now).await?;
    let response = idempotent::run_in_lane(
        &state,
        Lane::BehindPayments,
        &key,
        StatusCode::CREATED,
        move |tx| -> TxFuture<'_, _> {
            Box::pin(async move {
                let order = purchase::take_order(tx, &programme, resident_id, sets, now).await?;
                Ok((order, None::<i64>))
            })
        },
    )
    .await?;
    tracing::info!(resident_id, sets = sets.get(), status = %response.status(), "additional sale order");
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/sale/draw",
    responses((status = 200, body = PublicDraw), (status = 404, body = ErrorBody)))]
pub async fn public_draw(State(state): State<AppState>) -> Result<Json<PublicDraw>, ApiError> {
    Ok(Json(
        lottery::public_record(&state.db, &state.programme).await?,
    ))
}

// ---------------------------------------------------------------------------------------------
// The payment provider

#[utoipa::path(post, path = "/api/v1/sale/provider-notifications", request_body = ProviderNotification,
    params(("Chiiki-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">")),
    responses((status = 200, body = ProviderAck), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn provider_notification(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ProviderAck>, ApiError> {
    let outcome = notification(&state, &headers, &body).await;
    match &outcome {
        Ok(ack) => tracing::info!(
            order_id = ack.order_id,
            issued_now = ack.issued_now,
            payment_id = %ack.receipt.reference,
            "provider notification accepted"
        ),
        // Every refusal is logged: a provider that keeps being refused needs a person.
        Err(e) => tracing::warn!(
            code = e.code.as_str(),
            status = e.status.as_u16(),
            reason = %e.message,
            body_bytes = body.len(),
            "provider notification refused"
        ),
    }
    outcome.map(Json)
}

async fn notification(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<ProviderAck, ApiError> {
    let now = state.clock.now();
    let secret = state
        .sale
        .webhook_secret
        .as_ref()
        .ok_or(SaleError::WebhookNotConfigured)?;
    let header = headers
        .get(SALE_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    secret.verify(header, body, now, state.sale.webhook_tolerance)?;
    let note: ProviderNotification = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_field("body", &format!("通知の内容が読めません: {e}")))?;
    let reference = PaymentReference::parse(&note.payment_id, "payment_id")?;
    let payment = Payment {
        method: SalePaymentMethod::Provider,
        reference,
        notified_amount: Some(note.amount),
    };
    let mut tx = state.db.begin().await?;
    match purchase::pay_order(
        &mut tx,
        &state.programme,
        note.order_id,
        &payment,
        "provider",
        now,
    )
    .await
    {
        Ok(paid) => {
            tx.commit().await?;
            Ok(ProviderAck {
                order_id: note.order_id,
                issued_now: paid.issued_now,
                receipt: paid.receipt,
            })
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e.into())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Staff

#[utoipa::path(get, path = "/api/v1/admin/sale", security(("bearer" = [])),
    responses((status = 200, body = SaleSummary), (status = 403, body = ErrorBody)))]
pub async fn summary(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<SaleSummary>, ApiError> {
    require_staff(&who)?;
    Ok(Json(
        purchase::summary(&state.db, &state.programme, state.clock.now()).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/admin/sale/commitment", request_body = CommitRequest,
    security(("bearer" = [])),
    responses((status = 201, body = PublicDraw), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn commit(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiJson(req, _): ApiJson<CommitRequest>,
) -> Result<(StatusCode, Json<PublicDraw>), ApiError> {
    require_operator(&who)?;
    let commitment = Commitment::parse(&req.commitment)?;
    let now = state.clock.now();
    let record =
        lottery::commit(&state.db, &state.programme, &commitment, &who.actor(), now).await?;
    let entry = crate::audit::Action::new(who.actor(), ip, "sale.commit")
        .target(format!("sale:{}", state.programme.id))
        .detail(serde_json::json!({
            "commitment": record.commitment,
            "applications": record.applications.len(),
        }));
    crate::audit::record_after(&state.db, entry, now).await;
    Ok((StatusCode::CREATED, Json(record)))
}

#[utoipa::path(post, path = "/api/v1/admin/sale/draw", request_body = DrawRequest,
    security(("bearer" = [])),
    responses((status = 200, body = PublicDraw), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn draw(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiJson(req, _): ApiJson<DrawRequest>,
) -> Result<Json<PublicDraw>, ApiError> {
    require_operator(&who)?;
    let seed = Seed::parse(&req.seed)?;
    let now = state.clock.now();
    let record = lottery::draw(&state.db, &state.programme, &seed, &who.actor(), now).await?;
    let results = record.results.as_deref().unwrap_or_default();
    let entry = crate::audit::Action::new(who.actor(), ip, "sale.draw")
        .target(format!("sale:{}", state.programme.id))
        .detail(serde_json::json!({
            "seed": record.seed,
            "winners": results.iter().filter(|r| r.won > 0).count(),
        }));
    crate::audit::record_after(&state.db, entry, now).await;
    Ok(Json(record))
}

#[utoipa::path(post, path = "/api/v1/admin/sale/expire", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header)),
    responses((status = 200, body = ExpirySummary), (status = 409, body = ErrorBody)))]
pub async fn expire(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    IdempotencyHeader(raw_key): IdempotencyHeader,
) -> Result<Response, ApiError> {
    require_operator(&who)?;
    let key = IdempotencyKey::new(
        &who.actor(),
        raw_key.as_deref(),
        "POST /api/v1/admin/sale/expire",
        &serde_json::Value::Null,
    )?;
    if let Some(previous) = key.lookup(&state.db).await? {
        return Ok(idempotent::stored(previous));
    }
    let now = state.clock.now();
    // Expiry runs in short batches of its own (it is idempotent by itself), so the key is
    // completed afterwards rather than inside one long transaction.
    let summary = match expiry::expire(&state.db, &state.programme, &who.actor(), now).await {
        Ok(summary) => summary,
        Err(e) => return idempotent::refuse(&state, &key, e.into()).await,
    };
    let response = StoredResponse {
        status: StatusCode::OK.as_u16(),
        body: serde_json::to_string(&summary).map_err(ApiError::internal)?,
    };
    let mut tx = state.db.begin().await?;
    if let Some(previous) = key.claim(&mut tx, now).await? {
        tx.rollback().await?;
        return Ok(idempotent::stored(previous));
    }
    key.complete(&mut tx, &response, None).await?;
    let entry = crate::audit::Action::new(who.actor(), ip, "sale.expire")
        .target(format!("issue:{}", summary.issue))
        .detail(serde_json::to_value(&summary).unwrap_or_default());
    crate::audit::record_in(&mut tx, &entry, now).await?;
    tx.commit().await?;
    Ok(idempotent::stored(response))
}

#[utoipa::path(post, path = "/api/v1/admin/sale/orders/{id}/counter-payment",
    request_body = CounterPaymentRequest, security(("bearer" = [])),
    params(("id" = i64, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 201, body = SalePurchaseReceipt), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn counter_payment(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(order_id): ApiPath<i64>,
    IdempotencyHeader(raw_key): IdempotencyHeader,
    ApiJson(req, body): ApiJson<CounterPaymentRequest>,
) -> Result<Response, ApiError> {
    require_operator(&who)?;
    let route = format!("POST /api/v1/admin/sale/orders/{order_id}/counter-payment");
    let key = IdempotencyKey::new(&who.actor(), raw_key.as_deref(), &route, &body)?;
    let payment = Payment {
        method: SalePaymentMethod::Counter,
        reference: PaymentReference::parse(&req.receipt_number, "receipt_number")?,
        notified_amount: None,
    };
    let programme = state.programme.clone();
    let actor = who.actor();
    let now = state.clock.now();
    let response = idempotent::run(
        &state,
        &key,
        StatusCode::CREATED,
        move |tx| -> TxFuture<'_, _> {
            Box::pin(async move {
                let paid =
                    purchase::pay_order(tx, &programme, order_id, &payment, &actor, now).await?;
                if paid.issued_now {
                    let entry =
                        crate::audit::Action::new(actor.clone(), ip, "sale.counter_payment")
                            .target(format!("order:{order_id}"))
                            .detail(
                                serde_json::json!({ "receipt_number": payment.reference.as_str() }),
                            );
                    crate::audit::record_in(tx, &entry, now).await?;
                }
                // The same receipt recorded again issued nothing: no operation to link.
                let id = paid.issued_now.then_some(paid.receipt.purchase_id);
                Ok((paid.receipt, id))
            })
        },
    )
    .await?;
    tracing::info!(staff = who.id, order_id, status = %response.status(), "counter payment");
    Ok(response)
}

#[utoipa::path(post, path = "/api/v1/admin/sale/counter-purchases",
    request_body = CounterPurchaseRequest, security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header)),
    responses((status = 201, body = SalePurchaseReceipt), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn counter_purchase(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    IdempotencyHeader(raw_key): IdempotencyHeader,
    ApiJson(req, body): ApiJson<CounterPurchaseRequest>,
) -> Result<Response, ApiError> {
    require_operator(&who)?;
    let key = IdempotencyKey::new(
        &who.actor(),
        raw_key.as_deref(),
        "POST /api/v1/admin/sale/counter-purchases",
        &body,
    )?;
    let programme = state.programme.clone();
    let sets = SetCount::parse(req.sets, &programme)?;
    let receipt_number = PaymentReference::parse(&req.receipt_number, "receipt_number")?;
    let now = state.clock.now();
    purchase::lapse_overdue(&state.db, &programme, now).await?;
    let actor = who.actor();
    let resident_id = req.resident_id;
    let response = idempotent::run(
        &state,
        &key,
        StatusCode::CREATED,
        move |tx| -> TxFuture<'_, _> {
            Box::pin(async move {
                let receipt = purchase::counter_purchase(
                    tx,
                    &programme,
                    resident_id,
                    sets,
                    &receipt_number,
                    &actor,
                    now,
                )
                .await?;
                let entry = crate::audit::Action::new(actor.clone(), ip, "sale.counter_purchase")
                    .target(format!("resident:{resident_id}"))
                    .detail(serde_json::json!({
                        "sets": sets.get(),
                        "receipt_number": receipt_number.as_str(),
                    }));
                crate::audit::record_in(tx, &entry, now).await?;
                let id = receipt.purchase_id;
                Ok((receipt, id))
            })
        },
    )
    .await?;
    tracing::info!(staff = who.id, resident_id, sets = sets.get(), status = %response.status(), "counter purchase");
    Ok(response)
}
