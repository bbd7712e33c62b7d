//! The event code (community points): what a venue shows and a resident scans to take part.
//! The city signs it with its ECDSA P-256 key (kept by the server in its key file); the code
//! names one programme, one event and the window it is good for. The core only lays out the
//! bytes and checks them; whether the event is open, full or already claimed is the server's.
//!
//! Payload: `CKE:` followed by base45 (RFC 9285) of the version 1 body (QR alphanumeric mode):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 1 | version = 1 |
//! | 1 | 1 | kind: 1 = rotating (a venue screen, one time slot), 2 = printed (a fixed window) |
//! | 2 | 1 | programme id length n (1–32) |
//! | 3 | n | programme id, ASCII |
//! | 3+n | 8 | event id, i64 big-endian |
//! | 11+n | 8 | valid from, unix seconds, i64 big-endian |
//! | 19+n | 8 | valid until (first second no longer valid), unix seconds, i64 big-endian |
//! | 27+n | 64 | signature r‖s over the signing bytes, 32 bytes each |
//!
//! For Midori (`midori-2024`, 11 bytes) the body is 102 bytes, 157 characters with the prefix.

use super::{QrError, base45};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

/// What every event code starts with.
pub const PREFIX: &str = "CKE:";
/// The layout version this build writes and reads.
pub const VERSION: u8 = 1;
/// Longest programme id (the programme file allows 32 characters).
pub const MAX_PROGRAMME_LEN: usize = 32;

/// Domain separation: a city signature over these bytes can never pass for anything else.
const SIGNING_DOMAIN: &[u8] = b"chiiki-event:";
const SIGNATURE_LEN: usize = 64;
const MAX_PAYLOAD_CHARS: usize = 512;

/// How the code is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventCodeKind {
    /// On a venue screen that shows a new code every rotation period; good for one slot.
    Rotating,
    /// Printed, good for a fixed window (usually the event's own).
    Printed,
}

impl EventCodeKind {
    fn byte(self) -> u8 {
        match self {
            EventCodeKind::Rotating => 1,
            EventCodeKind::Printed => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<EventCodeKind> {
        match byte {
            1 => Some(EventCodeKind::Rotating),
            2 => Some(EventCodeKind::Printed),
            _ => None,
        }
    }
}

/// What the city signs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventToken {
    pub kind: EventCodeKind,
    /// The currency programme the event belongs to (`midori-2024`).
    pub programme: String,
    pub event_id: i64,
    /// Unix seconds: the code is good from here…
    pub valid_from: i64,
    /// …until just before here.
    pub valid_until: i64,
}

impl EventToken {
    /// The bytes the city signs (ECDSA P-256 with SHA-256): `"chiiki-event:"` (13 ASCII
    /// bytes) ‖ the body's fields from offset 0 to 27+n as in the module table.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut bytes = SIGNING_DOMAIN.to_vec();
        self.write_fields(&mut bytes);
        bytes
    }

    /// Checks what the layout cannot carry, before signing.
    pub fn validate(&self) -> Result<(), QrError> {
        let programme_ok = !self.programme.is_empty()
            && self.programme.len() <= MAX_PROGRAMME_LEN
            && self.programme.is_ascii();
        if !programme_ok {
            return Err(QrError::InvalidSpec {
                field: "programme",
                reason: "must be 1-32 ASCII characters",
            });
        }
        if self.valid_until <= self.valid_from {
            return Err(QrError::InvalidSpec {
                field: "valid_until",
                reason: "must be after valid_from",
            });
        }
        Ok(())
    }

    /// The QR payload for this token and its fixed 64-byte r‖s signature.
    pub fn encode(&self, signature: &[u8]) -> Result<String, QrError> {
        self.validate()?;
        let signature: &[u8; SIGNATURE_LEN] =
            signature.try_into().map_err(|_| QrError::BadSignature)?;
        let mut body = Vec::with_capacity(27 + self.programme.len() + SIGNATURE_LEN);
        self.write_fields(&mut body);
        body.extend_from_slice(signature);
        Ok(format!("{PREFIX}{}", base45::encode(&body)))
    }

    fn write_fields(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.push(self.kind.byte());
        // validate() keeps the length within a byte; a longer id is cut rather than wrapped.
        let programme = &self.programme.as_bytes()[..self.programme.len().min(MAX_PROGRAMME_LEN)];
        out.push(programme.len() as u8);
        out.extend_from_slice(programme);
        out.extend_from_slice(&self.event_id.to_be_bytes());
        out.extend_from_slice(&self.valid_from.to_be_bytes());
        out.extend_from_slice(&self.valid_until.to_be_bytes());
    }
}

/// A decoded event code. Decoding proves nothing: check the programme, the signature and the
/// window, then let the server check the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEventCode {
    pub token: EventToken,
    pub signature: [u8; SIGNATURE_LEN],
}

/// True when a scanned payload claims to be an event code (the app routes it by this).
pub fn is_event_code(payload: &str) -> bool {
    payload.starts_with(PREFIX)
}

/// Reads a scanned event code. Anything without the `CKE:` prefix is
/// [`QrError::NotAPaymentCode`] (not one of our event codes).
pub fn decode_event_code(payload: &str) -> Result<SignedEventCode, QrError> {
    let text = payload
        .strip_prefix(PREFIX)
        .ok_or(QrError::NotAPaymentCode)?;
    if payload.len() > MAX_PAYLOAD_CHARS {
        return Err(QrError::TooLong);
    }
    let body = base45::decode(text).ok_or(QrError::BadEncoding {
        reason: "not base45",
    })?;
    let (&version, rest) = body
        .split_first()
        .ok_or(QrError::BadEncoding { reason: "empty" })?;
    if version != VERSION {
        return Err(QrError::UnsupportedVersion { version });
    }
    let wrong_length = || QrError::BadEncoding {
        reason: "wrong length",
    };
    let (&kind, rest) = rest.split_first().ok_or_else(wrong_length)?;
    let kind = EventCodeKind::from_byte(kind).ok_or(QrError::BadField {
        field: "kind",
        reason: "unknown kind",
    })?;
    let (&len, rest) = rest.split_first().ok_or_else(wrong_length)?;
    let len = usize::from(len);
    if len == 0 || len > MAX_PROGRAMME_LEN || rest.len() < len {
        return Err(QrError::BadField {
            field: "programme",
            reason: "bad length",
        });
    }
    let (programme, rest) = rest.split_at(len);
    let programme = std::str::from_utf8(programme)
        .ok()
        .filter(|p| p.is_ascii())
        .ok_or(QrError::BadField {
            field: "programme",
            reason: "not ASCII",
        })?;
    let (event_id, rest) = rest.split_first_chunk().ok_or_else(wrong_length)?;
    let (valid_from, rest) = rest.split_first_chunk().ok_or_else(wrong_length)?;
    let (valid_until, rest) = rest.split_first_chunk().ok_or_else(wrong_length)?;
    let signature: [u8; SIGNATURE_LEN] = rest.try_into().map_err(|_| wrong_length())?;
    let token = EventToken {
        kind,
        programme: programme.to_string(),
        event_id: i64::from_be_bytes(*event_id),
        valid_from: i64::from_be_bytes(*valid_from),
        valid_until: i64::from_be_bytes(*valid_until),
    };
    if token.valid_until <= token.valid_from {
        return Err(QrError::BadField {
            field: "valid_until",
            reason: "not after valid_from",
        });
    }
    Ok(SignedEventCode { token, signature })
}

impl SignedEventCode {
    /// A code of another programme (another city, another year) is refused before anything
    /// else, so that the resident reads the right reason.
    pub fn check_programme(&self, expected: &str) -> Result<(), QrError> {
        if self.token.programme == expected {
            Ok(())
        } else {
            Err(QrError::OtherProgramme {
                expected: expected.to_string(),
                found: self.token.programme.clone(),
            })
        }
    }

    /// Checks the city's signature; `public_key` is the SEC1 uncompressed P-256 point.
    pub fn verify(&self, public_key: &[u8]) -> Result<(), QrError> {
        if public_key.len() != 65 || public_key[0] != 0x04 {
            return Err(QrError::BadPublicKey);
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
            .verify(&self.token.signing_bytes(), &self.signature)
            .map_err(|_| QrError::BadSignature)
    }

    /// Good while `valid_from <= now_unix < valid_until + grace_secs` (the grace lets a code
    /// that rotated a moment ago through); a negative grace counts as zero.
    pub fn check_window(&self, now_unix: i64, grace_secs: i64) -> Result<(), QrError> {
        let now = i128::from(now_unix);
        if now < i128::from(self.token.valid_from) {
            return Err(QrError::NotYetValid);
        }
        if now >= i128::from(self.token.valid_until) + i128::from(grace_secs.max(0)) {
            return Err(QrError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

    const NOW: i64 = 1_732_000_000;

    fn key() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    fn token() -> EventToken {
        EventToken {
            kind: EventCodeKind::Rotating,
            programme: "midori-2024".into(),
            event_id: 42,
            valid_from: NOW,
            valid_until: NOW + 30,
        }
    }

    fn signed(key: &EcdsaKeyPair, token: &EventToken) -> String {
        let signature = key
            .sign(&SystemRandom::new(), &token.signing_bytes())
            .unwrap();
        token.encode(signature.as_ref()).unwrap()
    }

    fn is_qr_alphanumeric(c: char) -> bool {
        c.is_ascii_digit() || c.is_ascii_uppercase() || " $%*+-./:".contains(c)
    }

    #[test]
    fn signed_code_decodes_and_verifies() {
        let key = key();
        let payload = signed(&key, &token());
        assert!(is_event_code(&payload));
        assert_eq!(payload.len(), PREFIX.len() + 153);
        assert!(payload.chars().all(is_qr_alphanumeric), "{payload}");
        let code = decode_event_code(&payload).unwrap();
        assert_eq!(code.token, token());
        assert_eq!(code.check_programme("midori-2024"), Ok(()));
        assert_eq!(code.verify(key.public_key().as_ref()), Ok(()));
        assert_eq!(code.check_window(NOW + 29, 0), Ok(()));
    }

    #[test]
    fn signing_bytes_follow_the_documented_layout() {
        let bytes = token().signing_bytes();
        assert_eq!(&bytes[..13], b"chiiki-event:");
        assert_eq!(&bytes[13..16], &[1, 1, 11]);
        assert_eq!(&bytes[16..27], b"midori-2024");
        assert_eq!(&bytes[27..35], &42i64.to_be_bytes());
        assert_eq!(&bytes[35..43], &NOW.to_be_bytes());
        assert_eq!(&bytes[43..51], &(NOW + 30).to_be_bytes());
        assert_eq!(bytes.len(), 51);
    }

    #[test]
    fn any_changed_field_or_signature_byte_fails_verification() {
        let key = key();
        let code = decode_event_code(&signed(&key, &token())).unwrap();
        let public = key.public_key().as_ref().to_vec();
        for byte in 0..SIGNATURE_LEN {
            let mut forged = code.clone();
            forged.signature[byte] ^= 0x01;
            assert_eq!(forged.verify(&public), Err(QrError::BadSignature));
        }
        let changes: [fn(&mut EventToken); 5] = [
            |t| t.event_id = 43,
            |t| t.valid_until += 3600,
            |t| t.valid_from -= 1,
            |t| t.kind = EventCodeKind::Printed,
            |t| t.programme = "midori-2025".into(),
        ];
        for change in changes {
            let mut forged = code.clone();
            change(&mut forged.token);
            assert_eq!(forged.verify(&public), Err(QrError::BadSignature));
        }
        assert_eq!(
            code.verify(key_b_public().as_slice()),
            Err(QrError::BadSignature)
        );
        assert_eq!(code.verify(&[0x04; 64]), Err(QrError::BadPublicKey));
    }

    fn key_b_public() -> Vec<u8> {
        key().public_key().as_ref().to_vec()
    }

    #[test]
    fn another_programmes_code_is_named_as_such() {
        let code = decode_event_code(&signed(&key(), &token())).unwrap();
        assert_eq!(
            code.check_programme("kiryu-2025"),
            Err(QrError::OtherProgramme {
                expected: "kiryu-2025".into(),
                found: "midori-2024".into()
            })
        );
    }

    #[test]
    fn the_window_is_judged_against_the_callers_clock() {
        let code = SignedEventCode {
            token: token(),
            signature: [0; 64],
        };
        assert_eq!(code.check_window(NOW - 1, 30), Err(QrError::NotYetValid));
        assert_eq!(code.check_window(NOW, 0), Ok(()));
        assert_eq!(code.check_window(NOW + 30, 0), Err(QrError::Expired));
        assert_eq!(code.check_window(NOW + 59, 30), Ok(()));
        assert_eq!(code.check_window(NOW + 60, 30), Err(QrError::Expired));
        assert_eq!(code.check_window(i64::MAX, i64::MAX), Ok(()));
        assert_eq!(
            code.check_window(i64::MIN, i64::MAX),
            Err(QrError::NotYetValid)
        );
        assert_eq!(code.check_window(NOW + 30, -5), Err(QrError::Expired));
    }

    #[test]
    fn malformed_codes_get_their_own_errors() {
        assert_eq!(decode_event_code("CKR:ABC"), Err(QrError::NotAPaymentCode));
        assert!(matches!(
            decode_event_code("CKE:abc"),
            Err(QrError::BadEncoding { .. })
        ));
        let payload = signed(&key(), &token());
        assert!(matches!(
            decode_event_code(&payload[..payload.len() - 3]),
            Err(QrError::BadEncoding { .. })
        ));
        let v2 = format!("{PREFIX}{}", base45::encode(&[2; 100]));
        assert_eq!(
            decode_event_code(&v2),
            Err(QrError::UnsupportedVersion { version: 2 })
        );
        let kind9 = format!("{PREFIX}{}", base45::encode(&[1, 9, 1]));
        assert!(matches!(
            decode_event_code(&kind9),
            Err(QrError::BadField { field: "kind", .. })
        ));
        let backwards = EventToken {
            valid_until: NOW,
            ..token()
        };
        assert!(matches!(
            backwards.encode(&[0; 64]),
            Err(QrError::InvalidSpec { .. })
        ));
        let long = EventToken {
            programme: "x".repeat(33),
            ..token()
        };
        assert!(matches!(
            long.encode(&[0; 64]),
            Err(QrError::InvalidSpec { .. })
        ));
        assert_eq!(token().encode(&[0; 63]), Err(QrError::BadSignature));
    }

    proptest! {
        #[test]
        fn tokens_round_trip(
            printed in any::<bool>(),
            programme in "[a-z0-9-]{1,32}",
            event_id in any::<i64>(),
            valid_from in any::<i64>(),
            length in 1..i64::MAX,
            signature in any::<[u8; 32]>(),
        ) {
            let token = EventToken {
                kind: if printed { EventCodeKind::Printed } else { EventCodeKind::Rotating },
                programme,
                event_id,
                valid_from,
                valid_until: valid_from.saturating_add(length).max(valid_from.wrapping_add(1)),
            };
            prop_assume!(token.valid_until > token.valid_from);
            let mut fixed = [0u8; 64];
            fixed[..32].copy_from_slice(&signature);
            fixed[32..].copy_from_slice(&signature);
            let payload = token.encode(&fixed).unwrap();
            prop_assert!(payload.chars().all(is_qr_alphanumeric));
            let code = decode_event_code(&payload).unwrap();
            prop_assert_eq!(code, SignedEventCode { token, signature: fixed });
        }

        #[test]
        fn decoding_arbitrary_text_never_panics(text in any::<String>()) {
            let _ = decode_event_code(&text);
        }

        #[test]
        fn decoding_arbitrary_bodies_never_panics(body in proptest::collection::vec(any::<u8>(), 0..160)) {
            if let Ok(code) = decode_event_code(&format!("{PREFIX}{}", base45::encode(&body))) {
                let _ = code.check_window(NOW, 30);
                let _ = code.verify(&[0x04; 65]);
            }
        }

        #[test]
        fn a_tampered_code_never_verifies(at in 4..157usize, c in "[0-9A-Z $%*+./:-]") {
            let key = key();
            let payload = signed(&key, &token());
            let mut chars: Vec<char> = payload.chars().collect();
            let replacement = c.chars().next().unwrap_or('0');
            prop_assume!(chars[at] != replacement);
            chars[at] = replacement;
            let tampered: String = chars.into_iter().collect();
            let verdict = decode_event_code(&tampered)
                .and_then(|code| code.verify(key.public_key().as_ref()));
            prop_assert!(verdict.is_err());
        }
    }
}
