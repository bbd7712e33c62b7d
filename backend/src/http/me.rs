//! What a signed-in caller may read about themselves. A resident sees only their own data:
//! there is no resident id in these paths to change.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiQuery, Auth};
use crate::auth::PrincipalKind;
use crate::{ledger, residents};
use axum::Json;
use axum::extract::State;
use chiiki_core::protocol::{Balance, ErrorBody, Me, TransactionPage, TransactionQuery};

#[utoipa::path(get, path = "/api/v1/me", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, Auth(who): Auth) -> Result<Json<Me>, ApiError> {
    let resident = match who.kind {
        PrincipalKind::Resident => Some(residents::profile(&state.db, who.id).await?),
        _ => None,
    };
    let display_name = crate::auth::display_name(&state.db, &who).await?;
    Ok(Json(Me {
        role: who.role,
        display_name,
        device_id: who.device_id,
        resident,
        store_id: who.store_id,
    }))
}

#[utoipa::path(get, path = "/api/v1/me/balance", security(("bearer" = [])),
    responses((status = 200, body = Balance), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn balance(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<Balance>, ApiError> {
    let resident_id = who.resident_id()?;
    Ok(Json(
        ledger::balance(state.db.reader(), resident_id, state.clock.now()).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/me/transactions", params(TransactionQuery), security(("bearer" = [])),
    responses((status = 200, body = TransactionPage), (status = 401, body = ErrorBody)))]
pub async fn transactions(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(query): ApiQuery<TransactionQuery>,
) -> Result<Json<TransactionPage>, ApiError> {
    let resident_id = who.resident_id()?;
    let before =
        match query.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(c.parse::<i64>().map_err(|_| {
                ApiError::invalid_field("cursor", "ページの指定が正しくありません。")
            })?),
        };
    let limit = query.limit.unwrap_or(20);
    Ok(Json(
        ledger::history(state.db.reader(), resident_id, before, limit).await?,
    ))
}
