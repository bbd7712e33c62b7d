//! Community points over HTTP: staff define events and take their printed codes, the venue's
//! tablet shows the rotating code, residents claim and read their points. Handlers only
//! parse, check who asks and call `crate::points`.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth, ClientIp, IdempotencyHeader};
use super::idempotent::{self, TxFuture};
use crate::auth::{AuthError, Principal, PrincipalKind};
use crate::idempotency::IdempotencyKey;
use crate::points::{claims, codes, events};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chiiki_core::protocol::{
    ErrorBody, EventCode, PointsClaimReceipt, PointsClaimRequest, PointsEvent, PointsEventSpec,
    PointsSummary, paths,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ME_POINTS, get(my_points))
        .route(paths::ME_POINTS_CLAIMS, post(claim))
        .route(
            paths::ADMIN_POINTS_EVENTS,
            get(list_events).post(create_event),
        )
        .route(
            "/api/v1/admin/points/events/{id}",
            get(show_event).put(update_event),
        )
        .route(
            "/api/v1/admin/points/events/{id}/printed-code",
            get(printed_code),
        )
        .route("/venue/points/{id}/{key}", get(venue_page))
        .route("/venue/points/{id}/{key}/code", get(venue_code))
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

#[utoipa::path(get, path = "/api/v1/me/points", security(("bearer" = [])),
    responses((status = 200, body = PointsSummary), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn my_points(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<PointsSummary>, ApiError> {
    let resident_id = who.resident_id()?;
    Ok(Json(
        claims::summary(state.db.reader(), resident_id, state.clock.now()).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/me/points/claims", request_body = PointsClaimRequest,
    security(("bearer" = [])), params(("Idempotency-Key" = String, Header)),
    responses((status = 201, body = PointsClaimReceipt), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn claim(
    State(state): State<AppState>,
    Auth(who): Auth,
    IdempotencyHeader(raw_key): IdempotencyHeader,
    ApiJson(req, body): ApiJson<PointsClaimRequest>,
) -> Result<Response, ApiError> {
    let resident_id = who.resident_id()?;
    let key = IdempotencyKey::new(
        &who.actor(),
        raw_key.as_deref(),
        "POST /api/v1/me/points/claims",
        &body,
    )?;
    if let Some(previous) = key.lookup(&state.db).await? {
        return Ok(idempotent::stored(previous));
    }
    let now = state.clock.now();
    let rules = state.programme.points;
    let event_id = match codes::check(
        state.db.vault(),
        &state.programme.id,
        &req.payload,
        &rules,
        now,
    ) {
        Ok(id) => id,
        Err(e) => {
            claims::log_refusal(resident_id, None, &e);
            return idempotent::refuse(&state, &key, e.into()).await;
        }
    };
    let programme_id = state.programme.id.clone();
    let response = idempotent::run(
        &state,
        &key,
        StatusCode::CREATED,
        move |tx| -> TxFuture<'_, _> {
            Box::pin(async move {
                let receipt = claims::claim(tx, &programme_id, &rules, resident_id, event_id, now)
                    .await
                    .inspect_err(|e| claims::log_refusal(resident_id, Some(event_id), e))?;
                Ok((receipt, None::<i64>))
            })
        },
    )
    .await?;
    if response.status().is_success() {
        tracing::info!(target: crate::ops::logs::OPERATION, resident_id, event_id, "points claimed");
    }
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/admin/points/events", security(("bearer" = [])),
    responses((status = 200, body = Vec<PointsEvent>), (status = 403, body = ErrorBody)))]
pub async fn list_events(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<Vec<PointsEvent>>, ApiError> {
    require_staff(&who)?;
    let list = events::list(&state.db, &state.programme.id).await?;
    Ok(Json(
        list.iter().map(|e| e.view(state.db.vault())).collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/admin/points/events/{id}", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = PointsEvent), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show_event(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PointsEvent>, ApiError> {
    require_staff(&who)?;
    let event = events::get(state.db.reader(), &state.programme.id, id).await?;
    Ok(Json(event.view(state.db.vault())))
}

#[utoipa::path(post, path = "/api/v1/admin/points/events", request_body = PointsEventSpec,
    security(("bearer" = [])),
    responses((status = 201, body = PointsEvent), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_event(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiJson(req, _): ApiJson<PointsEventSpec>,
) -> Result<(StatusCode, Json<PointsEvent>), ApiError> {
    require_operator(&who)?;
    let spec = events::EventSpec::parse(&req, &state.programme.points)?;
    let now = state.clock.now();
    let event = events::create_audited(
        &state.db,
        &state.programme.id,
        &spec,
        &who.actor(),
        &ip,
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(event.view(state.db.vault()))))
}

#[utoipa::path(put, path = "/api/v1/admin/points/events/{id}", request_body = PointsEventSpec,
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = PointsEvent), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_event(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req, _): ApiJson<PointsEventSpec>,
) -> Result<Json<PointsEvent>, ApiError> {
    require_operator(&who)?;
    let spec = events::EventSpec::parse(&req, &state.programme.points)?;
    let now = state.clock.now();
    let event = events::update_audited(
        &state.db,
        &state.programme.id,
        id,
        &spec,
        &who.actor(),
        &ip,
        now,
    )
    .await?;
    Ok(Json(event.view(state.db.vault())))
}

#[utoipa::path(get, path = "/api/v1/admin/points/events/{id}/printed-code", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = EventCode), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn printed_code(
    State(state): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<EventCode>, ApiError> {
    require_operator(&who)?;
    let event = events::get(state.db.reader(), &state.programme.id, id).await?;
    let code =
        codes::printed_audited(&state.db, &event, &who.actor(), &ip, state.clock.now()).await?;
    Ok(Json(code))
}

/// The venue key in the path must match the event's: otherwise "not found", as for a
/// missing event, so that keys cannot be probed.
async fn venue_event(
    state: &AppState,
    id: i64,
    key: &str,
) -> Result<events::StoredEvent, ApiError> {
    let expected = events::venue_key(state.db.vault(), id);
    // Compared without an early exit, so the time taken says nothing about the key.
    let matches = expected.len() == key.len()
        && expected
            .bytes()
            .zip(key.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0;
    if !matches {
        return Err(ApiError::not_found());
    }
    Ok(events::get(state.db.reader(), &state.programme.id, id).await?)
}

/// The current rotating code for the venue's tablet (JSON with the SVG inside).
pub async fn venue_code(
    State(state): State<AppState>,
    ApiPath((id, key)): ApiPath<(i64, String)>,
) -> Result<Response, ApiError> {
    let event = venue_event(&state, id, &key).await?;
    let code = codes::rotating(
        state.db.vault(),
        &event,
        &state.programme.points,
        state.clock.now(),
    )?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(code)).into_response())
}

/// The page the venue's tablet opens: the event's name and its rotating code, fetched again
/// a moment after each rotation by a few lines of script.
pub async fn venue_page(
    State(state): State<AppState>,
    ApiPath((id, key)): ApiPath<(i64, String)>,
) -> Result<Response, ApiError> {
    let event = venue_event(&state, id, &key).await?;
    let page = VENUE_PAGE
        .replace("{name}", &escape(&event.spec.name))
        .replace("{place}", &escape(&event.spec.place))
        .replace("{points}", &event.spec.points.get().to_string())
        .replace(
            "{code_path}",
            &format!("{}/code", events::venue_path(state.db.vault(), id)),
        );
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const VENUE_PAGE: &str = r#"<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{name} — ポイント受付</title>
<style>
body { font-family: sans-serif; text-align: center; margin: 1rem; }
#code svg { width: min(80vw, 70vh); height: auto; }
.points { font-size: 1.6rem; }
.note { color: #555; }
</style>
</head>
<body>
<h1>{name}</h1>
<p>{place}</p>
<p class="points">参加で <strong>{points}ポイント</strong></p>
<div id="code" aria-label="ポイント受付のQRコード"></div>
<p class="note">アプリの「読み取る」でこのQRコードを読み取ってください。QRコードは30秒ごとに変わります。</p>
<p class="note" id="status"></p>
<script>
const path = "{code_path}";
async function refresh() {
  let wait = 5000;
  try {
    const res = await fetch(path, { cache: "no-store" });
    if (!res.ok) throw new Error(res.status);
    const code = await res.json();
    document.getElementById("code").innerHTML = code.svg;
    document.getElementById("status").textContent = "";
    wait = Math.max(1000, Date.parse(code.valid_until) - Date.now() + 500);
  } catch (e) {
    document.getElementById("status").textContent = "通信できません。再接続しています…";
  }
  setTimeout(refresh, wait);
}
refresh();
</script>
</body>
</html>
"#;
