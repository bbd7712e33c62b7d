//! QR codecs for every code Chiiki prints or shows: store and amount codes (EMV MPM, the JPQR
//! way), resident codes (device-signed tokens), event codes (city-signed, community points)
//! and their rendering. Pure: no I/O, no clock
//! (callers pass `now`), and no panic on any input; every way a payload can be wrong is a
//! [`QrError`] variant with a plain Japanese message.

mod base45;
pub mod emv;
pub mod event;
pub mod merchant;
pub mod render;
pub mod resident;

pub use event::{EventCodeKind, EventToken, SignedEventCode, decode_event_code, is_event_code};
pub use merchant::{
    CHIIKI_GUID, CHIIKI_TEMPLATE_ID, MerchantCode, StoreCodeSpec, amount_code_from_store_code,
    decode_merchant_code, encode_amount_code, encode_store_code,
};
pub use resident::{ResidentToken, SignedResidentCode, decode_resident_code};

use thiserror::Error;

/// Everything that can go wrong when reading, writing or checking a QR code.
///
/// Reading errors are for people first: show [`QrError::message_ja`], log [`QrError::code`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QrError {
    /// Not a payment code at all: a URL, random text, another kind of QR code.
    #[error("not a payment code")]
    NotAPaymentCode,
    /// Longer than the format allows (EMV: 512 characters) or than a QR symbol holds.
    #[error("payload too long")]
    TooLong,
    /// The EMV checksum (tag 63) does not match: the code is damaged or was altered.
    #[error("CRC mismatch")]
    BadCrc,
    /// The EMV data objects are malformed. `at` is a character offset in the string that was
    /// being parsed (the whole payload, or one template's value).
    #[error("malformed EMV data at character {at}: {reason}")]
    BadTlv { at: usize, reason: &'static str },
    /// A well-formed EMV code that carries no Chiiki merchant account template.
    #[error("EMV code without a Chiiki merchant account")]
    NotOurs,
    /// One of our codes, but for another programme (another city, or another year's issue).
    #[error("code for programme {found:?}, expected {expected:?}")]
    OtherProgramme { expected: String, found: String },
    /// A field of one of our codes is missing or invalid.
    #[error("invalid {field} in code: {reason}")]
    BadField {
        field: &'static str,
        reason: &'static str,
    },
    /// An amount code (tag 01 = "12") without an amount (tag 54).
    #[error("amount code without an amount")]
    AmountMissing,
    /// Tag 54 is not a positive whole number of yen.
    #[error("malformed amount")]
    AmountMalformed,
    /// A store code (tag 01 = "11") that carries an amount: only amount codes may.
    #[error("store code carries an amount")]
    AmountOnStoreCode,
    /// A resident code whose base45 text or binary layout is malformed.
    #[error("malformed resident code: {reason}")]
    BadEncoding { reason: &'static str },
    /// A resident code in a layout version this build does not know.
    #[error("unsupported resident code version {version}")]
    UnsupportedVersion { version: u8 },
    /// The resident code's validity has run out.
    #[error("code expired")]
    Expired,
    /// The resident code was issued later than `now` plus the allowed clock skew.
    #[error("code issued in the future")]
    NotYetValid,
    /// The signature does not verify with the device's key (tampered, or another device).
    #[error("bad signature")]
    BadSignature,
    /// The device public key is not a SEC1 uncompressed P-256 point (65 bytes, 0x04 first).
    #[error("malformed device public key")]
    BadPublicKey,
    /// This resident code was already used. Detected by the server's nonce store, not here.
    #[error("code already used")]
    Replayed,
    /// The caller asked to encode something invalid (a programming or data-entry error).
    #[error("cannot encode: {field} {reason}")]
    InvalidSpec {
        field: &'static str,
        reason: &'static str,
    },
    /// The QR symbol or image could not be produced.
    #[error("rendering failed: {reason}")]
    RenderFailed { reason: &'static str },
}

impl QrError {
    /// A short message that anyone can understand, for the screen.
    pub fn message_ja(&self) -> &'static str {
        match self {
            QrError::NotAPaymentCode | QrError::TooLong => "このQRコードはお支払いに使えません。",
            QrError::BadCrc
            | QrError::BadTlv { .. }
            | QrError::BadField { .. }
            | QrError::BadEncoding { .. } => {
                "QRコードを正しく読み取れませんでした。もう一度読み取ってください。"
            }
            QrError::NotOurs => "このQRコードは、このアプリでのお支払いには使えません。",
            QrError::OtherProgramme { .. } => {
                "このQRコードは別の商品券のものです。このアプリでは使えません。"
            }
            QrError::AmountMissing | QrError::AmountMalformed => {
                "金額を読み取れませんでした。お店の方に金額をご確認ください。"
            }
            QrError::AmountOnStoreCode => {
                "このQRコードは正しくありません。お店の方にご確認ください。"
            }
            QrError::UnsupportedVersion { .. } => {
                "このQRコードは読み取れません。アプリを最新の版に更新してください。"
            }
            QrError::Expired => {
                "QRコードの有効期限が切れています。新しいQRコードでもう一度お試しください。"
            }
            QrError::NotYetValid => {
                "このQRコードはまだ使えません。スマートフォンの時刻をご確認ください。"
            }
            QrError::BadSignature | QrError::BadPublicKey => {
                "このQRコードは確認できませんでした。お支払いには使えません。"
            }
            QrError::Replayed => {
                "このQRコードはすでに使われています。新しいQRコードでもう一度お試しください。"
            }
            QrError::InvalidSpec { .. } => "QRコードを作れませんでした。登録内容をご確認ください。",
            QrError::RenderFailed { .. } => "QRコードを表示できませんでした。",
        }
    }

    /// A stable snake_case identifier, for logs and for matching in shells.
    pub fn code(&self) -> &'static str {
        match self {
            QrError::NotAPaymentCode => "not_a_payment_code",
            QrError::TooLong => "too_long",
            QrError::BadCrc => "bad_crc",
            QrError::BadTlv { .. } => "bad_tlv",
            QrError::NotOurs => "not_ours",
            QrError::OtherProgramme { .. } => "other_programme",
            QrError::BadField { .. } => "bad_field",
            QrError::AmountMissing => "amount_missing",
            QrError::AmountMalformed => "amount_malformed",
            QrError::AmountOnStoreCode => "amount_on_store_code",
            QrError::BadEncoding { .. } => "bad_encoding",
            QrError::UnsupportedVersion { .. } => "unsupported_version",
            QrError::Expired => "expired",
            QrError::NotYetValid => "not_yet_valid",
            QrError::BadSignature => "bad_signature",
            QrError::BadPublicKey => "bad_public_key",
            QrError::Replayed => "replayed",
            QrError::InvalidSpec { .. } => "invalid_spec",
            QrError::RenderFailed { .. } => "render_failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn every_variant() -> Vec<QrError> {
        vec![
            QrError::NotAPaymentCode,
            QrError::TooLong,
            QrError::BadCrc,
            QrError::BadTlv { at: 0, reason: "x" },
            QrError::NotOurs,
            QrError::OtherProgramme {
                expected: "a".into(),
                found: "b".into(),
            },
            QrError::BadField {
                field: "f",
                reason: "x",
            },
            QrError::AmountMissing,
            QrError::AmountMalformed,
            QrError::AmountOnStoreCode,
            QrError::BadEncoding { reason: "x" },
            QrError::UnsupportedVersion { version: 9 },
            QrError::Expired,
            QrError::NotYetValid,
            QrError::BadSignature,
            QrError::BadPublicKey,
            QrError::Replayed,
            QrError::InvalidSpec {
                field: "f",
                reason: "x",
            },
            QrError::RenderFailed { reason: "x" },
        ]
    }

    #[test]
    fn every_error_has_a_distinct_code_and_a_japanese_message() {
        let variants = every_variant();
        let codes: HashSet<_> = variants.iter().map(QrError::code).collect();
        assert_eq!(codes.len(), variants.len());
        for error in &variants {
            let code = error.code();
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
            let message = error.message_ja();
            assert!(message.ends_with('。'), "{message}");
            assert!(!message.is_ascii(), "{message}");
        }
    }
}
