//! Store codes as images and printable posters: the static store code as PNG and SVG, a
//! store's poster as PDF (A4 or A5), and every approved store's poster in one PDF for staff.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, Auth};
use crate::auth::{AuthError, PrincipalKind};
use crate::poster::{self, PosterError};
use crate::stores;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chiiki_core::protocol::{ErrorBody, PosterQuery, StoreDetail, StoreStatus};
use chiiki_core::qr;

/// An approved store and what its printed code says.
async fn store_and_payload(state: &AppState, id: i64) -> Result<(StoreDetail, String), ApiError> {
    let store = stores::detail(&state.db, id).await?;
    if store.status != StoreStatus::Approved {
        return Err(stores::StoreError::Unknown.into());
    }
    let payload = qr::encode_store_code(&stores::code_spec(&store, &state.programme))
        .map_err(ApiError::internal)?;
    Ok((store, payload))
}

fn file(content_type: &'static str, disposition: String, body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

fn poster_error(e: PosterError) -> ApiError {
    match e {
        PosterError::Pdf(e) => e.into(),
        PosterError::Code { .. } => ApiError::internal(e),
    }
}

#[utoipa::path(get, path = "/api/v1/stores/{id}/code.png", params(("id" = i64, Path)),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404, body = ErrorBody)))]
pub async fn code_png(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let (_, payload) = store_and_payload(&state, id).await?;
    let png = qr::render::to_png(&payload, 8).map_err(ApiError::internal)?;
    Ok(file(
        "image/png",
        format!("inline; filename=\"store-{id}.png\""),
        png,
    ))
}

#[utoipa::path(get, path = "/api/v1/stores/{id}/code.svg", params(("id" = i64, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = ErrorBody)))]
pub async fn code_svg(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let (_, payload) = store_and_payload(&state, id).await?;
    let svg = qr::render::to_svg(&payload).map_err(ApiError::internal)?;
    Ok(file(
        "image/svg+xml",
        format!("inline; filename=\"store-{id}.svg\""),
        svg.into_bytes(),
    ))
}

#[utoipa::path(get, path = "/api/v1/stores/{id}/poster.pdf", params(("id" = i64, Path), PosterQuery),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn poster(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<PosterQuery>,
) -> Result<Response, ApiError> {
    let store = store_and_payload(&state, id).await?;
    let faces = state.stores.fonts.get().await?;
    let size = query.size.unwrap_or_default();
    let programme = state.programme.clone();
    let pdf =
        tokio::task::spawn_blocking(move || poster::posters(&faces, &programme, &[store], size))
            .await
            .map_err(ApiError::internal)?
            .map_err(poster_error)?;
    Ok(file(
        "application/pdf",
        format!("inline; filename=\"poster-{id}-{size:?}.pdf\""),
        pdf,
    ))
}

#[utoipa::path(get, path = "/api/v1/admin/posters.pdf", params(PosterQuery), security(("bearer" = [])),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 403, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn all_posters(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(query): ApiQuery<PosterQuery>,
) -> Result<Response, ApiError> {
    if who.kind != PrincipalKind::Staff {
        return Err(AuthError::Forbidden.into());
    }
    let faces = state.stores.fonts.get().await?;
    let mut pages = Vec::new();
    for store in stores::approved(&state.db).await? {
        let payload = qr::encode_store_code(&stores::code_spec(&store, &state.programme))
            .map_err(ApiError::internal)?;
        pages.push((store, payload));
    }
    let size = query.size.unwrap_or_default();
    let programme = state.programme.clone();
    let count = pages.len();
    let pdf =
        tokio::task::spawn_blocking(move || poster::posters(&faces, &programme, &pages, size))
            .await
            .map_err(ApiError::internal)?
            .map_err(poster_error)?;
    tracing::info!(staff = who.id, stores = count, "posters printed");
    Ok(file(
        "application/pdf",
        format!(
            "attachment; filename=\"posters-{}-{size:?}.pdf\"",
            state.programme.id
        ),
        pdf,
    ))
}
