//! The app's only door to the QR codecs in `crate::qr`: reading a scanned store or amount code,
//! and assembling the resident's own code. Errors leave here as sentences for the screen.

use chrono::{DateTime, Utc};

use crate::qr::{self, resident::ResidentToken};

use super::model::ScannedCode;

/// How long one resident code is accepted; it is replaced every `ROTATE_EVERY_MS`, so a code
/// shown just before the change still works at the till.
pub const RESIDENT_CODE_VALIDITY_SECS: u32 = 60;
/// How often the resident code is replaced while it is on screen.
pub const ROTATE_EVERY_MS: u64 = 30_000;

/// Read a scanned store or amount code of `programme_id`.
pub fn read_store_code(payload: &str, programme_id: &str) -> Result<ScannedCode, &'static str> {
    let code = qr::decode_merchant_code(payload, programme_id).map_err(|e| e.message_ja())?;
    Ok(ScannedCode {
        payload: payload.to_owned(),
        store_id: code.store_id,
        amount: code.amount,
        name: code.name_ja.unwrap_or(code.name),
    })
}

/// What goes into one resident code before it is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenParts {
    pub device_id: i64,
    pub issued_at: DateTime<Utc>,
    pub nonce: [u8; 16],
}

impl TokenParts {
    fn token(&self) -> ResidentToken {
        ResidentToken {
            device_id: self.device_id,
            issued_at: self.issued_at.timestamp(),
            validity_secs: RESIDENT_CODE_VALIDITY_SECS,
            nonce: self.nonce,
        }
    }

    /// The bytes the device key signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        self.token().signing_bytes()
    }

    /// The payload to show, and its QR symbol as SVG.
    pub fn assemble(&self, signature: &[u8]) -> Result<(String, String), &'static str> {
        let payload = self.token().encode(signature).map_err(|e| e.message_ja())?;
        let svg = qr::render::to_svg(&payload).map_err(|e| e.message_ja())?;
        Ok((payload, svg))
    }
}
