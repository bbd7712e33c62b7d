//! Request extractors that turn every way a request can be malformed into a typed
//! [`ApiError`] (never axum's plain-text rejections), and resolve the caller.

use super::AppState;
use super::error::ApiError;
use crate::auth::{self, Principal};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chiiki_core::protocol::{ErrorCode, IDEMPOTENCY_KEY_HEADER};
use serde::de::DeserializeOwned;

/// JSON body. Also keeps the parsed value as `serde_json::Value` for idempotency fingerprints.
pub struct ApiJson<T>(pub T, pub serde_json::Value);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state)
            .await
            .map_err(json_rejection)?;
        let parsed = serde_json::from_value::<T>(value.clone()).map_err(|e| data_error(&e))?;
        Ok(ApiJson(parsed, value))
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Content-Type: application/json で送ってください。 / Send JSON.",
        ),
        JsonRejection::BytesRejection(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "送られた内容が大きすぎます。 / The request body is too large.",
        ),
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedJson,
            format!(
                "JSONとして読めません。 / Malformed JSON: {}",
                other.body_text()
            ),
        ),
    }
}

/// serde's message names the problem; the code tells clients which kind it is.
fn data_error(e: &serde_json::Error) -> ApiError {
    let text = e.to_string();
    let code = if text.starts_with("unknown field") {
        ErrorCode::UnknownField
    } else if text.starts_with("missing field") {
        ErrorCode::MissingField
    } else {
        ErrorCode::InvalidField
    };
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        code,
        format!("入力の項目が正しくありません。 / {text}"),
    )
}

pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidField,
                    format!("URLの条件が正しくありません。 / {}", e.body_text()),
                )
            })
    }
}

pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_: PathRejection| ApiError::not_found())
    }
}

/// The signed-in caller, from `Authorization: Bearer <token>`.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token =
            bearer_token(parts).ok_or_else(|| ApiError::from(auth::AuthError::Unauthorized))?;
        let principal = auth::authenticate(&state.db, token, state.clock.now()).await?;
        if let Some(slot) = parts.extensions.get::<crate::ops::access::CallerSlot>() {
            slot.set(principal.actor());
        }
        Ok(Auth(principal))
    }
}

/// The SHA-256 of the caller's bearer token, for a handler that authenticates later (a
/// payment, inside its batch's transaction). A request without a token is refused here.
pub struct SessionToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SessionToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        bearer_token(parts)
            .map(|token| SessionToken(crate::crypto::token_hash(token)))
            .ok_or_else(|| ApiError::from(auth::AuthError::Unauthorized))
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The raw `Idempotency-Key` header, if any (validated with the caller's scope later).
pub struct IdempotencyHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.headers.get(IDEMPOTENCY_KEY_HEADER) {
            None => Ok(IdempotencyHeader(None)),
            Some(v) => v
                .to_str()
                .map(|s| IdempotencyHeader(Some(s.to_string())))
                .map_err(|_| crate::idempotency::IdempotencyError::Invalid.into()),
        }
    }
}

/// The caller's network address: the TCP peer, or the first `X-Forwarded-For` hop when the
/// server is configured to sit behind a trusted reverse proxy.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.settings.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty());
            if let Some(ip) = forwarded {
                return Ok(ClientIp(ip.to_string()));
            }
        }
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".to_string());
        Ok(ClientIp(peer))
    }
}

/// Takes a token from `limiter` for `key`, or refuses with 429 and Retry-After.
pub fn limit(
    limiter: &crate::ops::limits::KeyedLimiter,
    key: &str,
    state: &AppState,
) -> Result<(), ApiError> {
    limiter.check(key, state.clock.now()).map_err(|wait| {
        tracing::warn!(target: "chiiki::failure", key_kind = "rate_limit", "rate limited");
        ApiError::rate_limited(wait.0)
    })
}
