//! Endpoints anyone may call: health, the programme, registration, login, the store directory.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, ClientIp, limit};
use crate::auth::{self, LoginInput};
use crate::residents::{self, NewResident};
use crate::stores;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chiiki_core::protocol::{
    CreateSession, ErrorBody, Health, ProgrammeInfo, RegisterResident, ResidentRegistered, Role,
    SessionCreated, StoreCode, StoreDetail, StoreDirectory, StoreDirectoryQuery, StoreStatus,
};
use chiiki_core::time::jst_date;

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[utoipa::path(get, path = "/readyz", responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            chiiki_core::protocol::ErrorCode::Unavailable,
            "停止の準備中です。 / Draining for shutdown.",
        ));
    }
    sqlx::query("SELECT 1")
        .execute(state.db.reader())
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "database not ready");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                chiiki_core::protocol::ErrorCode::Unavailable,
                "データベースに接続できません。 / Database unavailable.",
            )
        })?;
    Ok(Json(Health {
        status: "ready".into(),
    }))
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Result<String, ApiError> {
    let handle = crate::ops::metrics::handle()
        .ok_or_else(|| ApiError::internal("no metrics recorder installed"))?;
    for (name, pool) in [("write", state.db.writer()), ("read", state.db.reader())] {
        crate::ops::metrics::record_pool(name, pool.size(), pool.num_idle());
    }
    Ok(handle.render())
}

#[utoipa::path(get, path = "/api/v1/programme", responses((status = 200, body = ProgrammeInfo)))]
pub async fn programme(State(state): State<AppState>) -> Json<ProgrammeInfo> {
    Json(state.programme.info())
}

#[utoipa::path(post, path = "/api/v1/residents", request_body = RegisterResident,
    responses((status = 201, body = ResidentRegistered), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req, _): ApiJson<RegisterResident>,
) -> Result<(StatusCode, Json<ResidentRegistered>), ApiError> {
    limit(&state.limits.register_per_ip, &ip, &state)?;
    let now = state.clock.now();
    let new = NewResident::parse(&req, &state.programme, jst_date(now))?;
    let login = new.phone.as_str().to_string();
    let resident_id = residents::register(&state.db, new, state.settings.hash_cost, now).await?;
    tracing::info!(resident_id, "resident registered");
    Ok((
        StatusCode::CREATED,
        Json(ResidentRegistered { resident_id, login }),
    ))
}

#[utoipa::path(post, path = "/api/v1/sessions", request_body = CreateSession,
    responses((status = 201, body = SessionCreated), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req, _): ApiJson<CreateSession>,
) -> Result<(StatusCode, Json<SessionCreated>), ApiError> {
    limit(&state.limits.login_per_ip, &ip, &state)?;
    limit(&state.limits.login_per_account, req.login.trim(), &state)?;
    let session = auth::login(
        &state.db,
        LoginInput {
            login: &req.login,
            password: &req.password,
            device_name: &req.device_name,
            public_key: req.public_key.as_deref(),
        },
        state.clock.now(),
    )
    .await?;
    if session.role != Role::Resident {
        tracing::info!(target: crate::ops::logs::OPERATION, role = ?session.role, device_id = session.device_id, "staff signed in");
    }
    Ok((StatusCode::CREATED, Json(session)))
}

#[utoipa::path(get, path = "/api/v1/stores", params(StoreDirectoryQuery),
    responses((status = 200, body = StoreDirectory)))]
pub async fn directory(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<StoreDirectoryQuery>,
) -> Result<Json<StoreDirectory>, ApiError> {
    let as_of = state.clock.now();
    let stores = stores::directory(&state.db, query.since).await?;
    Ok(Json(StoreDirectory { stores, as_of }))
}

#[utoipa::path(get, path = "/api/v1/stores/{id}/code", params(("id" = i64, Path)),
    responses((status = 200, body = StoreCode), (status = 404, body = ErrorBody)))]
pub async fn store_code(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<StoreCode>, ApiError> {
    let store = stores::detail(&state.db, id).await?;
    if store.status != StoreStatus::Approved {
        return Err(stores::StoreError::Unknown.into());
    }
    let payload = chiiki_core::qr::encode_store_code(&stores::code_spec(&store, &state.programme))
        .map_err(ApiError::internal)?;
    Ok(Json(StoreCode {
        store_id: id,
        payload,
    }))
}

#[utoipa::path(get, path = "/api/v1/stores/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = StoreDetail), (status = 404, body = ErrorBody)))]
pub async fn store(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<StoreDetail>, ApiError> {
    let store = stores::detail(&state.db, id).await?;
    // Stores nobody approved are not public.
    if matches!(store.status, StoreStatus::Pending | StoreStatus::Rejected) {
        return Err(stores::StoreError::Unknown.into());
    }
    Ok(Json(store))
}
