//! Store onboarding over HTTP: applications by the API and by the public web page (HTML,
//! CSRF-protected), and the city staff's review: list, read, reject, suspend, set the bank
//! account. Approval is `admin::approve_store`.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth, ClientIp, limit};
use crate::auth::{self, AuthError, PrincipalKind};
use crate::csrf;
use crate::stores::application::{bank_view, parse_bank_account};
use crate::stores::apply_page::{self, ApplicationForm};
use crate::stores::{self, NewApplication};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chiiki_core::protocol::{
    BankAccountInput, ErrorBody, StoreApplication, StoreApplicationReceived, StoreDecision,
    StoreDetail, StoreList, StoreListQuery, StoreRecord, StoreStatus,
};

fn require_staff(who: &auth::Principal) -> Result<(), ApiError> {
    if who.kind == PrincipalKind::Staff {
        Ok(())
    } else {
        Err(AuthError::Forbidden.into())
    }
}

fn require_operator(who: &auth::Principal) -> Result<(), ApiError> {
    require_staff(who)?;
    Ok(who.require_operator()?)
}

async fn receive(
    state: &AppState,
    req: &StoreApplication,
) -> Result<(StoreApplicationReceived, String), ApiError> {
    let new = NewApplication::parse(req, &state.programme)?;
    let record = stores::apply(&state.db, &new, state.clock.now()).await?;
    tracing::info!(store_id = record.store.id, "store application received");
    Ok((
        StoreApplicationReceived {
            store_id: record.store.id,
            status: record.store.status,
            bank_account: bank_view(&new.bank),
        },
        record.store.name,
    ))
}

#[utoipa::path(post, path = "/api/v1/store-applications", request_body = StoreApplication,
    responses((status = 201, body = StoreApplicationReceived), (status = 422, body = ErrorBody)))]
pub async fn apply(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req, _): ApiJson<StoreApplication>,
) -> Result<(StatusCode, Json<StoreApplicationReceived>), ApiError> {
    // Anyone may apply: the same per-address limit as resident registration.
    limit(&state.limits.register_per_ip, &ip, &state)?;
    let (received, _) = receive(&state, &req).await?;
    Ok((StatusCode::CREATED, Json(received)))
}

fn html(status: StatusCode, body: String, cookie: Option<&str>) -> Response {
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    // The form holds personal data: never cache it; never frame it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    if let Some(nonce) = cookie {
        let value = format!(
            "{}={nonce}; Path={}; HttpOnly; SameSite=Strict; Max-Age={}",
            csrf::COOKIE,
            chiiki_core::protocol::paths::STORE_APPLY_PAGE,
            csrf::LIFETIME_SECS
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(header::SET_COOKIE, v);
        }
    }
    response
}

/// A fresh form (or the same form again, with its problems) and the cookie that goes with it.
async fn form_page(
    state: &AppState,
    form: &ApplicationForm,
    problems: &[(String, String)],
    status: StatusCode,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let key = state.stores.form_key(&state.db, now).await?;
    let issued = key.issue(now).map_err(ApiError::internal)?;
    let body = apply_page::render_form(&state.programme, form, problems, &issued.token);
    Ok(html(status, body, Some(&issued.cookie)))
}

/// `GET /stores/apply`: the application form.
pub async fn apply_form(State(state): State<AppState>) -> Result<Response, ApiError> {
    form_page(&state, &ApplicationForm::default(), &[], StatusCode::OK).await
}

/// `POST /stores/apply`: the form submitted. Problems come back on the form with what was
/// typed; success shows the application number and the account as it will be paid.
pub async fn apply_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    axum::extract::Form(form): axum::extract::Form<ApplicationForm>,
) -> Result<Response, ApiError> {
    limit(&state.limits.register_per_ip, &ip, &state)?;
    let now = state.clock.now();
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| csrf::cookie_value(v, csrf::COOKIE));
    let key = state.stores.form_key(&state.db, now).await?;
    if let Err(e) = key.check(cookie, &form.csrf_token, now) {
        tracing::warn!(error = %e, "store application form refused");
        return Ok(html(
            StatusCode::FORBIDDEN,
            apply_page::render_expired(&state.programme),
            None,
        ));
    }
    let application = match form.to_application() {
        Ok(a) => a,
        Err(missing) => {
            return form_page(&state, &form, &missing, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let problems = NewApplication::problems(&application, &state.programme);
    if !problems.is_empty() {
        return form_page(&state, &form, &problems, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let (received, name) = receive(&state, &application).await?;
    Ok(html(
        StatusCode::CREATED,
        apply_page::render_received(&state.programme, &received, &name),
        None,
    ))
}

#[utoipa::path(get, path = "/api/v1/admin/stores", params(StoreListQuery), security(("bearer" = [])),
    responses((status = 200, body = StoreList), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(query): ApiQuery<StoreListQuery>,
) -> Result<Json<StoreList>, ApiError> {
    require_staff(&who)?;
    let stores = stores::list(&state.db, query.status).await?;
    Ok(Json(StoreList { stores }))
}

#[utoipa::path(get, path = "/api/v1/admin/stores/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = StoreRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn record(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<StoreRecord>, ApiError> {
    require_staff(&who)?;
    Ok(Json(stores::record(&state.db, id).await?))
}

async fn decide(
    state: &AppState,
    who: &auth::Principal,
    ip: &str,
    id: i64,
    to: StoreStatus,
    req: &StoreDecision,
) -> Result<Json<StoreDetail>, ApiError> {
    require_operator(who)?;
    let reason = stores::parse_reason(&req.reason)?;
    let now = state.clock.now();
    let before = stores::detail(&state.db, id).await?.status;
    let store = stores::transition_with_reason(&state.db, id, to, Some(&reason), now).await?;
    let action = match to {
        StoreStatus::Rejected => "store.reject",
        _ => "store.suspend",
    };
    let entry = crate::audit::Action::new(who.actor(), ip, action)
        .target(format!("store:{id}"))
        .detail(serde_json::json!({
            "from": stores::status_name(before),
            "to": stores::status_name(store.status),
            "reason": reason,
        }));
    crate::audit::record_after(&state.db, entry, now).await;
    tracing::info!(staff = who.id, store_id = id, status = ?to, "store status changed");
    Ok(Json(store))
}

#[utoipa::path(post, path = "/api/v1/admin/stores/{id}/reject", request_body = StoreDecision,
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = StoreDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req, _): ApiJson<StoreDecision>,
) -> Result<Json<StoreDetail>, ApiError> {
    decide(&state, &who, &ip, id, StoreStatus::Rejected, &req).await
}

#[utoipa::path(post, path = "/api/v1/admin/stores/{id}/suspend", request_body = StoreDecision,
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = StoreDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn suspend(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req, _): ApiJson<StoreDecision>,
) -> Result<Json<StoreDetail>, ApiError> {
    decide(&state, &who, &ip, id, StoreStatus::Suspended, &req).await
}

#[utoipa::path(put, path = "/api/v1/admin/stores/{id}/bank-account", request_body = BankAccountInput,
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = StoreRecord), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_bank_account(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req, _): ApiJson<BankAccountInput>,
) -> Result<Json<StoreRecord>, ApiError> {
    require_operator(&who)?;
    let account = parse_bank_account(&req)?;
    let now = state.clock.now();
    let record = stores::set_bank_account(&state.db, id, &account, now).await?;
    // Which account, not its number: the log is read more widely than bank data.
    let entry = crate::audit::Action::new(who.actor(), ip, "store.bank_account_set")
        .target(format!("store:{id}"));
    crate::audit::record_after(&state.db, entry, now).await;
    tracing::info!(staff = who.id, store_id = id, "store bank account set");
    Ok(Json(record))
}
