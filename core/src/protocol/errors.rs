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
    // The premium set sale.
    ApplicationWindowClosed,
    SetsOutOfRange,
    NoApplication,
    ApplicationsStillOpen,
    DrawNotCommitted,
    DrawAlreadyCommitted,
    DrawAlreadyDone,
    DrawNotDone,
    SeedMismatch,
    ApplicationsChanged,
    SaleWindowClosed,
    AdditionalSaleNotOpen,
    SoldOut,
    SaleLimitReached,
    UnknownOrder,
    OrderLapsed,
    OrderAlreadyPaid,
    AmountMismatch,
    ReceiptNumberUsed,
    BadSignature,
    StaleNotification,
    WebhookNotConfigured,
    ExpiryTooEarly,
    SaleBusy,
    // Stores: onboarding, store mode, settlement.
    InvalidResidentCode,
    ResidentCodeExpired,
    ResidentCodeReplayed,
    ResidentCodeNotUsable,
    RefundWindowClosed,
    FormExpired,
    DocumentUnavailable,
    InvalidPeriod,
    PeriodNotOver,
    PeriodOutOfOrder,
    PeriodNotClosed,
    PayoutConflict,
    // Community points.
    UnknownEvent,
    InvalidEventCode,
    EventCodeTampered,
    EventCodeOtherProgramme,
    EventNotStarted,
    EventCodeExpired,
    EventCodeRotated,
    PointsAlreadyClaimed,
    EventFull,
    EventKeyMissing,
    // The server.
    RateLimited,
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
            ErrorCode::ApplicationWindowClosed => "application_window_closed",
            ErrorCode::SetsOutOfRange => "sets_out_of_range",
            ErrorCode::NoApplication => "no_application",
            ErrorCode::ApplicationsStillOpen => "applications_still_open",
            ErrorCode::DrawNotCommitted => "draw_not_committed",
            ErrorCode::DrawAlreadyCommitted => "draw_already_committed",
            ErrorCode::DrawAlreadyDone => "draw_already_done",
            ErrorCode::DrawNotDone => "draw_not_done",
            ErrorCode::SeedMismatch => "seed_mismatch",
            ErrorCode::ApplicationsChanged => "applications_changed",
            ErrorCode::SaleWindowClosed => "sale_window_closed",
            ErrorCode::AdditionalSaleNotOpen => "additional_sale_not_open",
            ErrorCode::SoldOut => "sold_out",
            ErrorCode::SaleLimitReached => "sale_limit_reached",
            ErrorCode::UnknownOrder => "unknown_order",
            ErrorCode::OrderLapsed => "order_lapsed",
            ErrorCode::OrderAlreadyPaid => "order_already_paid",
            ErrorCode::AmountMismatch => "amount_mismatch",
            ErrorCode::ReceiptNumberUsed => "receipt_number_used",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::StaleNotification => "stale_notification",
            ErrorCode::WebhookNotConfigured => "webhook_not_configured",
            ErrorCode::ExpiryTooEarly => "expiry_too_early",
            ErrorCode::SaleBusy => "sale_busy",
            ErrorCode::InvalidResidentCode => "invalid_resident_code",
            ErrorCode::ResidentCodeExpired => "resident_code_expired",
            ErrorCode::ResidentCodeReplayed => "resident_code_replayed",
            ErrorCode::ResidentCodeNotUsable => "resident_code_not_usable",
            ErrorCode::RefundWindowClosed => "refund_window_closed",
            ErrorCode::FormExpired => "form_expired",
            ErrorCode::DocumentUnavailable => "document_unavailable",
            ErrorCode::InvalidPeriod => "invalid_period",
            ErrorCode::PeriodNotOver => "period_not_over",
            ErrorCode::PeriodOutOfOrder => "period_out_of_order",
            ErrorCode::PeriodNotClosed => "period_not_closed",
            ErrorCode::PayoutConflict => "payout_conflict",
            ErrorCode::UnknownEvent => "unknown_event",
            ErrorCode::InvalidEventCode => "invalid_event_code",
            ErrorCode::EventCodeTampered => "event_code_tampered",
            ErrorCode::EventCodeOtherProgramme => "event_code_other_programme",
            ErrorCode::EventNotStarted => "event_not_started",
            ErrorCode::EventCodeExpired => "event_code_expired",
            ErrorCode::EventCodeRotated => "event_code_rotated",
            ErrorCode::PointsAlreadyClaimed => "points_already_claimed",
            ErrorCode::EventFull => "event_full",
            ErrorCode::EventKeyMissing => "event_key_missing",
            ErrorCode::RateLimited => "rate_limited",
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
            ErrorCode::ApplicationWindowClosed,
            ErrorCode::DrawAlreadyDone,
            ErrorCode::SoldOut,
            ErrorCode::SaleLimitReached,
            ErrorCode::BadSignature,
            ErrorCode::SaleBusy,
            ErrorCode::ResidentCodeReplayed,
            ErrorCode::RefundWindowClosed,
            ErrorCode::PeriodOutOfOrder,
            ErrorCode::EventCodeOtherProgramme,
            ErrorCode::PointsAlreadyClaimed,
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
