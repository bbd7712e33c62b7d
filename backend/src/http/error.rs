//! The one place where domain errors become HTTP: a status and `{ "error": code, "message":
//! text }`. Messages are plain Japanese first, for residents, stores and staff, then English.
//! Server faults are logged here and answered without detail.

use crate::auth::AuthError;
use crate::idempotency::IdempotencyError;
use crate::ledger::LedgerError;
use crate::residents::ResidentError;
use crate::stores::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chiiki_core::protocol::{ErrorBody, ErrorCode};
use chiiki_core::time::format_jst_datetime;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "サーバーで問題が起きました。しばらくしてからもう一度お試しください。 / Internal error.",
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "見つかりません。 / Not found.",
        )
    }

    pub fn invalid_field(field: &str, message: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidField,
            format!("{field}: {message}"),
        )
    }

    pub fn amount_not_positive() -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::AmountNotPositive,
            "金額は1円以上にしてください。 / The amount must be at least ¥1.",
        )
    }

    pub fn amount_too_large(max: chiiki_core::Yen) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::AmountTooLarge,
            format!("一度に扱える金額は{max}までです。 / The amount exceeds {max}."),
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code,
            message: self.message.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "ただいま混み合っています。少し待ってからもう一度お試しください。 / Busy, please retry.",
            ),
            other => ApiError::internal(other),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        use StatusCode as S;
        match e {
            LedgerError::InsufficientBalance {
                available,
                requested,
            } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::InsufficientBalance,
                format!(
                    "残高が足りません（使える残高 {available}、お支払い {requested}）。 / Insufficient balance."
                ),
            ),
            LedgerError::UnknownResident => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::UnknownResident,
                "その利用者は登録されていません。 / Unknown resident.",
            ),
            LedgerError::UnknownStore => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::UnknownStore,
                "そのお店は登録されていません。 / Unknown store.",
            ),
            LedgerError::StoreNotAccepting => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::StoreNotAccepting,
                "このお店では今は支払いができません。 / This store cannot take payments now.",
            ),
            LedgerError::UnknownPayment => ApiError::new(
                S::NOT_FOUND,
                ErrorCode::UnknownPayment,
                "その支払いは見つかりません。 / Unknown payment.",
            ),
            LedgerError::RefundExceedsPayment { refundable } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::RefundExceedsPayment,
                format!(
                    "返金できるのは{refundable}までです。 / At most {refundable} can be refunded."
                ),
            ),
            LedgerError::ProgrammeNotStarted => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::ProgrammeNotStarted,
                "まだ利用期間が始まっていません。 / The usage period has not started.",
            ),
            LedgerError::ProgrammeExpired => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::ProgrammeExpired,
                "利用期間は終わりました。 / The usage period has ended.",
            ),
            LedgerError::AmountNotPositive => ApiError::amount_not_positive(),
            LedgerError::Inconsistent(what) => ApiError::internal(format!("ledger: {what}")),
            LedgerError::Db(e) => e.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        use StatusCode as S;
        match e {
            AuthError::Unauthorized => ApiError::new(
                S::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "ログインしてください。 / Please sign in.",
            ),
            AuthError::InvalidCredentials => ApiError::new(
                S::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                "ログインIDかパスワードが違います。 / Wrong login or password.",
            ),
            AuthError::Forbidden => ApiError::new(
                S::FORBIDDEN,
                ErrorCode::Forbidden,
                "この操作はできません。 / Not allowed.",
            ),
            AuthError::WrongPin { remaining } => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::WrongPin,
                format!(
                    "暗証番号が違います。あと{remaining}回まちがえると、しばらく支払いができなくなります。 / Wrong PIN."
                ),
            ),
            AuthError::PinLocked { until } => ApiError::new(
                S::LOCKED,
                ErrorCode::PinLocked,
                format!(
                    "暗証番号を続けてまちがえたため、{}まで支払いを止めています。 / Payments are locked.",
                    format_jst_datetime(until)
                ),
            ),
            AuthError::InvalidPublicKey => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidPublicKey,
                "端末の鍵の形式が正しくありません。 / Invalid device public key.",
            ),
            AuthError::Invalid { field, message } => ApiError::invalid_field(field, message),
            AuthError::LoginTaken => ApiError::new(
                S::CONFLICT,
                ErrorCode::LoginTaken,
                "このログインIDは使われています。 / This login is taken.",
            ),
            AuthError::Crypto(e) => ApiError::internal(e),
            AuthError::Db(e) => e.into(),
        }
    }
}

impl From<ResidentError> for ApiError {
    fn from(e: ResidentError) -> Self {
        match e {
            ResidentError::Invalid { field, message } => ApiError::invalid_field(field, message),
            ResidentError::PhoneTaken => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::LoginTaken,
                "この電話番号はすでに登録されています。 / This phone number is already registered.",
            ),
            ResidentError::Unknown => LedgerError::UnknownResident.into(),
            ResidentError::Hash(e) => ApiError::internal(e),
            ResidentError::Ledger(e) => e.into(),
            ResidentError::Db(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid { field, message } => ApiError::invalid_field(field, message),
            StoreError::Unknown => LedgerError::UnknownStore.into(),
            StoreError::InvalidTransition { from, to } => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::InvalidTransition,
                format!("この状態（{from:?}）からは{to:?}にできません。 / Invalid status change."),
            ),
            StoreError::Ledger(e) => e.into(),
            StoreError::Db(e) => e.into(),
        }
    }
}

impl From<IdempotencyError> for ApiError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::Missing => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::IdempotencyKeyMissing,
                "Idempotency-Key ヘッダーが必要です。 / The Idempotency-Key header is required.",
            ),
            IdempotencyError::Invalid => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidField,
                "Idempotency-Key は1〜255文字の英数記号にしてください。 / Invalid Idempotency-Key.",
            ),
            IdempotencyError::Conflict => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::IdempotencyConflict,
                "同じ Idempotency-Key で別の内容が送られました。 / This key was used for a different request.",
            ),
            IdempotencyError::Db(e) => e.into(),
        }
    }
}
