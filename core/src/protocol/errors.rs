//! The API's error body, `{ "error": code, "message": text }`, and every code it can carry.
//! Clients match on the code; the message is for people (Japanese first).

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
}

/// Machine-readable error codes. New codes may appear; clients treat unknown ones as
/// [`ErrorCode::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum ErrorCode {
    // The request itself.
    MalformedJson,
    UnknownField,
    MissingField,
    InvalidField,
    UnsupportedMediaType,
    PayloadTooLarge,
    NotFound,
    MethodNotAllowed,
    IdempotencyKeyMissing,
    IdempotencyConflict,
    // Who is asking.
    Unauthorized,
    InvalidCredentials,
    Forbidden,
    LoginTaken,
    InvalidPublicKey,
    // Money.
    AmountNotPositive,
    AmountTooLarge,
    InsufficientBalance,
    WrongPin,
    PinLocked,
    UnknownStore,
    StoreNotAccepting,
    InvalidStoreCode,
    UnknownResident,
    UnknownPayment,
    RefundExceedsPayment,
    ProgrammeNotStarted,
    ProgrammeExpired,
    InvalidTransition,
    // The server.
    Unavailable,
    Internal,
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::IdempotencyKeyMissing => "idempotency_key_missing",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::LoginTaken => "login_taken",
            ErrorCode::InvalidPublicKey => "invalid_public_key",
            ErrorCode::AmountNotPositive => "amount_not_positive",
            ErrorCode::AmountTooLarge => "amount_too_large",
            ErrorCode::InsufficientBalance => "insufficient_balance",
            ErrorCode::WrongPin => "wrong_pin",
            ErrorCode::PinLocked => "pin_locked",
            ErrorCode::UnknownStore => "unknown_store",
            ErrorCode::StoreNotAccepting => "store_not_accepting",
            ErrorCode::InvalidStoreCode => "invalid_store_code",
            ErrorCode::UnknownResident => "unknown_resident",
            ErrorCode::UnknownPayment => "unknown_payment",
            ErrorCode::RefundExceedsPayment => "refund_exceeds_payment",
            ErrorCode::ProgrammeNotStarted => "programme_not_started",
            ErrorCode::ProgrammeExpired => "programme_expired",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde() {
        for code in [
            ErrorCode::MalformedJson,
            ErrorCode::IdempotencyConflict,
            ErrorCode::InsufficientBalance,
            ErrorCode::PinLocked,
            ErrorCode::ProgrammeExpired,
            ErrorCode::Internal,
        ] {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
        }
    }

    #[test]
    fn unknown_codes_from_a_newer_server_are_tolerated() {
        let body: ErrorBody =
            serde_json::from_str(r#"{"error":"brand_new","message":"x"}"#).unwrap();
        assert_eq!(body.error, ErrorCode::Unknown);
    }
}
