//! Settlement over HTTP. City staff close a period, download its Zengin transfer file and the
//! statements, and mark payouts paid or returned by the bank (both move money, so both take an
//! Idempotency-Key). Store staff read their own statements in store mode.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth, ClientIp, IdempotencyHeader};
use super::idempotent::{self, TxFuture};
use super::store_mode::store_of;
use crate::auth::{AuthError, Principal, PrincipalKind};
use crate::idempotency::IdempotencyKey;
use crate::settlement::{self, Closed, Period, SettlementError, statement};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chiiki_core::protocol::{
    ErrorBody, PayoutReceipt, PayoutReturned, Settlement, SettlementList, StoreStatement,
    StoreStatementList,
};

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

fn period(state: &AppState, text: &str) -> Result<Period, ApiError> {
    Ok(settlement::parse_period(&state.programme, text)?)
}

async fn closed(state: &AppState, period: Period) -> Result<Closed, ApiError> {
    settlement::load(&state.db, &state.programme, period)
        .await?
        .ok_or_else(|| SettlementError::NotClosed(period.to_string()).into())
}

fn download(content_type: &'static str, name: &str, body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    // Bank accounts: never kept by a shared cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(post, path = "/api/v1/admin/settlements/{period}/close", params(("period" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Settlement), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn close(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(text): ApiPath<String>,
) -> Result<Json<Settlement>, ApiError> {
    require_operator(&who)?;
    let period = period(&state, &text)?;
    let now = state.clock.now();
    let closed = settlement::close(&state.db, &state.programme, period, &who.actor(), now).await?;
    let summary = &closed.settlement.summary;
    let entry = crate::audit::Action::new(who.actor(), ip, "settlement.close")
        .target(format!("settlement:{period}"))
        .detail(serde_json::json!({
            "transfers": summary.transfer_count,
            "total": summary.transfer_total.get(),
        }));
    crate::audit::record_after(&state.db, entry, now).await;
    tracing::info!(staff = who.id, %period, "settlement closed");
    Ok(Json(closed.settlement))
}

#[utoipa::path(get, path = "/api/v1/admin/settlements", security(("bearer" = [])),
    responses((status = 200, body = SettlementList), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<SettlementList>, ApiError> {
    require_staff(&who)?;
    let cycles = settlement::list(&state.db, &state.programme).await?;
    Ok(Json(SettlementList { cycles }))
}

#[utoipa::path(get, path = "/api/v1/admin/settlements/{period}", params(("period" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Settlement), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(text): ApiPath<String>,
) -> Result<Json<Settlement>, ApiError> {
    require_staff(&who)?;
    let period = period(&state, &text)?;
    Ok(Json(closed(&state, period).await?.settlement))
}

#[utoipa::path(get, path = "/api/v1/admin/settlements/{period}/zengin", params(("period" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn zengin(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(text): ApiPath<String>,
) -> Result<Response, ApiError> {
    require_operator(&who)?;
    let period = period(&state, &text)?;
    let closed = closed(&state, period).await?;
    let name = closed.transfer_file_name(&state.programme);
    let entry = crate::audit::Action::new(who.actor(), ip, "export.zengin")
        .target(format!("settlement:{period}"))
        .detail(serde_json::json!({ "file": name }));
    let file = closed.transfer_file.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            chiiki_core::protocol::ErrorCode::NotFound,
            "この期間は振込がないため、振込ファイルはありません。 / No transfers in this period.",
        )
    })?;
    crate::audit::record(&state.db, &entry, state.clock.now()).await?;
    tracing::info!(staff = who.id, %period, "transfer file downloaded");
    Ok(download("application/octet-stream", &name, file))
}

#[utoipa::path(get, path = "/api/v1/admin/settlements/{period}/statements.csv", params(("period" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn all_statements_csv(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(text): ApiPath<String>,
) -> Result<Response, ApiError> {
    require_staff(&who)?;
    let period = period(&state, &text)?;
    let closed = closed(&state, period).await?;
    let summary = &closed.settlement.summary;
    let rows: Vec<_> = closed
        .settlement
        .lines
        .iter()
        .map(|l| (summary, l, closed.accounts.get(&l.store_id)))
        .collect();
    Ok(download(
        "text/csv; charset=utf-8",
        &format!("settlement-{}-{period}.csv", state.programme.id),
        statement::csv(&rows),
    ))
}

async fn one_statement(
    state: &AppState,
    text: &str,
    store_id: i64,
    pdf: bool,
) -> Result<Response, ApiError> {
    let period = period(state, text)?;
    let (found, account) =
        settlement::store_statement(&state.db, &state.programme, period, store_id)
            .await?
            .ok_or_else(|| SettlementError::UnknownPayout {
                period: period.to_string(),
                store_id,
            })?;
    let name = format!("statement-{period}-{store_id}");
    if !pdf {
        let body = statement::csv(&[(&found.summary, &found.line, account.as_ref())]);
        return Ok(download(
            "text/csv; charset=utf-8",
            &format!("{name}.csv"),
            body,
        ));
    }
    let faces = state.stores.fonts.get().await?;
    let programme = state.programme.clone();
    let body = tokio::task::spawn_blocking(move || {
        statement::pdf(
            &faces,
            &programme,
            &found.summary,
            &found.line,
            account.as_ref(),
        )
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(download("application/pdf", &format!("{name}.pdf"), body))
}

#[utoipa::path(get, path = "/api/v1/admin/settlements/{period}/stores/{store_id}/statement.csv",
    params(("period" = String, Path), ("store_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = ErrorBody)))]
pub async fn statement_csv(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath((text, store_id)): ApiPath<(String, i64)>,
) -> Result<Response, ApiError> {
    require_staff(&who)?;
    one_statement(&state, &text, store_id, false).await
}

#[utoipa::path(get, path = "/api/v1/admin/settlements/{period}/stores/{store_id}/statement.pdf",
    params(("period" = String, Path), ("store_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = ErrorBody)))]
pub async fn statement_pdf(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath((text, store_id)): ApiPath<(String, i64)>,
) -> Result<Response, ApiError> {
    require_staff(&who)?;
    one_statement(&state, &text, store_id, true).await
}

#[utoipa::path(post, path = "/api/v1/admin/settlements/{period}/stores/{store_id}/paid",
    params(("period" = String, Path), ("store_id" = i64, Path), ("Idempotency-Key" = String, Header)),
    security(("bearer" = [])),
    responses((status = 201, body = PayoutReceipt), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn mark_paid(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath((text, store_id)): ApiPath<(String, i64)>,
    IdempotencyHeader(raw_key): IdempotencyHeader,
) -> Result<Response, ApiError> {
    require_operator(&who)?;
    let period = period(&state, &text)?;
    let route = format!("POST /api/v1/admin/settlements/{period}/stores/{store_id}/paid");
    let key = IdempotencyKey::new(
        &who.actor(),
        raw_key.as_deref(),
        &route,
        &serde_json::Value::Null,
    )?;
    let (programme, actor, now) = (state.programme.clone(), who.actor(), state.clock.now());
    idempotent::run(
        &state,
        &key,
        StatusCode::CREATED,
        move |tx| -> TxFuture<'_, _> {
            Box::pin(async move {
                let receipt =
                    settlement::mark_paid(tx, &programme, period, store_id, &actor, now).await?;
                let entry = crate::audit::Action::new(actor.clone(), ip, "settlement.paid")
                    .target(format!("settlement:{period}/store:{store_id}"))
                    .detail(serde_json::to_value(&receipt).unwrap_or_default());
                crate::audit::record_in(tx, &entry, now).await?;
                let id = receipt.operation_id;
                Ok((receipt, id))
            })
        },
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/admin/settlements/{period}/paid",
    params(("period" = String, Path), ("Idempotency-Key" = String, Header)), security(("bearer" = [])),
    responses((status = 201, body = Vec<PayoutReceipt>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn mark_all_paid(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(text): ApiPath<String>,
    IdempotencyHeader(raw_key): IdempotencyHeader,
) -> Result<Response, ApiError> {
    require_operator(&who)?;
    let period = period(&state, &text)?;
    let route = format!("POST /api/v1/admin/settlements/{period}/paid");
    let key = IdempotencyKey::new(
        &who.actor(),
        raw_key.as_deref(),
        &route,
        &serde_json::Value::Null,
    )?;
    let (programme, actor, now) = (state.programme.clone(), who.actor(), state.clock.now());
    idempotent::run(
        &state,
        &key,
        StatusCode::CREATED,
        move |tx| -> TxFuture<'_, _> {
            Box::pin(async move {
                let receipts =
                    settlement::mark_all_paid(tx, &programme, period, &actor, now).await?;
                let entry = crate::audit::Action::new(actor.clone(), ip, "settlement.all_paid")
                    .target(format!("settlement:{period}"))
                    .detail(serde_json::json!({ "stores": receipts.len() }));
                crate::audit::record_in(tx, &entry, now).await?;
                let id = receipts.first().map(|r| r.operation_id).unwrap_or_default();
                Ok((receipts, id))
            })
        },
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/admin/settlements/{period}/stores/{store_id}/returned",
    request_body = PayoutReturned,
    params(("period" = String, Path), ("store_id" = i64, Path), ("Idempotency-Key" = String, Header)),
    security(("bearer" = [])),
    responses((status = 201, body = PayoutReceipt), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn mark_returned(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath((text, store_id)): ApiPath<(String, i64)>,
    IdempotencyHeader(raw_key): IdempotencyHeader,
    ApiJson(req, body): ApiJson<PayoutReturned>,
) -> Result<Response, ApiError> {
    require_operator(&who)?;
    let period = period(&state, &text)?;
    let route = format!("POST /api/v1/admin/settlements/{period}/stores/{store_id}/returned");
    let key = IdempotencyKey::new(&who.actor(), raw_key.as_deref(), &route, &body)?;
    let reason = crate::stores::parse_reason(&req.reason)?;
    let (programme, actor, now) = (state.programme.clone(), who.actor(), state.clock.now());
    idempotent::run(
        &state,
        &key,
        StatusCode::CREATED,
        move |tx| -> TxFuture<'_, _> {
            Box::pin(async move {
                let receipt = settlement::mark_returned(
                    tx, &programme, period, store_id, &reason, &actor, now,
                )
                .await?;
                let entry = crate::audit::Action::new(actor.clone(), ip, "settlement.returned")
                    .target(format!("settlement:{period}/store:{store_id}"))
                    .detail(serde_json::json!({ "reason": reason }));
                crate::audit::record_in(tx, &entry, now).await?;
                let id = receipt.operation_id;
                Ok((receipt, id))
            })
        },
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/store/statements", security(("bearer" = [])),
    responses((status = 200, body = StoreStatementList), (status = 403, body = ErrorBody)))]
pub async fn store_statements(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<StoreStatementList>, ApiError> {
    let store_id = store_of(&who)?;
    let statements: Vec<StoreStatement> =
        settlement::store_statements(&state.db, &state.programme, store_id)
            .await?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
    Ok(Json(StoreStatementList { statements }))
}

#[utoipa::path(get, path = "/api/v1/store/statements/{period}/statement.csv", params(("period" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = ErrorBody)))]
pub async fn store_statement_csv(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(text): ApiPath<String>,
) -> Result<Response, ApiError> {
    let store_id = store_of(&who)?;
    one_statement(&state, &text, store_id, false).await
}

#[utoipa::path(get, path = "/api/v1/store/statements/{period}/statement.pdf", params(("period" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = ErrorBody)))]
pub async fn store_statement_pdf(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(text): ApiPath<String>,
) -> Result<Response, ApiError> {
    let store_id = store_of(&who)?;
    one_statement(&state, &text, store_id, true).await
}
