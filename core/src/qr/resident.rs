//! The resident code: a short-lived token the app shows and the store scans, signed with the
//! device's ECDSA P-256 key (which never leaves the phone's key store, so the core only lays
//! out the bytes to sign and checks signatures). Freshness is checked against a `now` the caller
//! passes; single use (the nonce) is the server's job.
//!
//! Payload: `CKR:` followed by base45 (RFC 9285) of the version 1 body, so that the QR symbol
//! can use alphanumeric mode:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 1 | version = 1 |
//! | 1 | 8 | device id, i64 big-endian |
//! | 9 | 8 | issued at, unix seconds, i64 big-endian |
//! | 17 | 4 | validity seconds, u32 big-endian |
//! | 21 | 16 | nonce |
//! | 37 | 64 | signature r‖s, 32 bytes each, big-endian |
//!
//! 101 bytes, 156 characters with the prefix (a version 7-M symbol, 45 modules wide).
//!
//! Signature format: the wire always carries the fixed 64-byte r‖s. [`ResidentToken::encode`]
//! takes either that or ASN.1 DER (what iOS and Android key stores return), told apart by
//! length: exactly 64 bytes is r‖s, anything else must be DER and is converted. A DER signature
//! is 64 bytes long only when r and s are both unusually short (odds around 2^-32); such a code
//! fails verification and the app shows the next one.

use super::{QrError, base45};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

/// What every resident code starts with.
pub const PREFIX: &str = "CKR:";
/// The layout version this build writes and reads.
pub const VERSION: u8 = 1;
/// The longest validity a code may claim: the server keeps each nonce until the code expires,
/// so validity must stay short.
pub const MAX_VALIDITY_SECS: u32 = 600;

/// Domain separation: a signature over these bytes can never be mistaken for one the device
/// key made for any other purpose.
const SIGNING_DOMAIN: &[u8; 16] = b"chiiki-resident:";
const SIGNATURE_LEN: usize = 64;
const FIELDS_LEN: usize = 8 + 8 + 4 + 16;
const BODY_LEN: usize = 1 + FIELDS_LEN + SIGNATURE_LEN;
/// Longest payload worth decoding; anything longer is not ours.
const MAX_PAYLOAD_CHARS: usize = 512;

/// What the resident's device signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResidentToken {
    pub device_id: i64,
    /// Unix seconds, from the phone's clock.
    pub issued_at: i64,
    /// How long the code stays valid after `issued_at`; at most [`MAX_VALIDITY_SECS`].
    pub validity_secs: u32,
    /// Random, fresh for every code; the server refuses a nonce it has seen.
    pub nonce: [u8; 16],
}

impl ResidentToken {
    /// The bytes the device signs (ECDSA P-256 with SHA-256):
    /// `"chiiki-resident:"` (16 ASCII bytes) ‖ version (1) ‖ the body's fields from offset 1
    /// to 37 as in the module table: device id, issued at, validity, nonce (36 bytes).
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(SIGNING_DOMAIN.len() + 1 + FIELDS_LEN);
        bytes.extend_from_slice(SIGNING_DOMAIN);
        bytes.push(VERSION);
        self.write_fields(&mut bytes);
        bytes
    }

    /// The QR payload for this token and its signature (64-byte r‖s or ASN.1 DER).
    pub fn encode(&self, signature: &[u8]) -> Result<String, QrError> {
        if self.validity_secs > MAX_VALIDITY_SECS {
            return Err(QrError::InvalidSpec {
                field: "validity_secs",
                reason: "longer than MAX_VALIDITY_SECS",
            });
        }
        let signature = fixed_signature(signature).ok_or(QrError::BadSignature)?;
        let mut body = Vec::with_capacity(BODY_LEN);
        body.push(VERSION);
        self.write_fields(&mut body);
        body.extend_from_slice(&signature);
        Ok(format!("{PREFIX}{}", base45::encode(&body)))
    }

    fn write_fields(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.device_id.to_be_bytes());
        out.extend_from_slice(&self.issued_at.to_be_bytes());
        out.extend_from_slice(&self.validity_secs.to_be_bytes());
        out.extend_from_slice(&self.nonce);
    }
}

/// A decoded resident code. Decoding proves nothing: call [`SignedResidentCode::check_fresh`]
/// and [`SignedResidentCode::verify`], then let the server check the nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedResidentCode {
    pub token: ResidentToken,
    /// Fixed r‖s.
    pub signature: [u8; SIGNATURE_LEN],
}

/// Reads a scanned resident code. Anything without the `CKR:` prefix is
/// [`QrError::NotAPaymentCode`].
pub fn decode_resident_code(payload: &str) -> Result<SignedResidentCode, QrError> {
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
    let (device_id, rest) = rest.split_first_chunk().ok_or_else(wrong_length)?;
    let (issued_at, rest) = rest.split_first_chunk().ok_or_else(wrong_length)?;
    let (validity_secs, rest) = rest.split_first_chunk().ok_or_else(wrong_length)?;
    let (&nonce, rest) = rest.split_first_chunk().ok_or_else(wrong_length)?;
    let signature: [u8; SIGNATURE_LEN] = rest.try_into().map_err(|_| wrong_length())?;
    let token = ResidentToken {
        device_id: i64::from_be_bytes(*device_id),
        issued_at: i64::from_be_bytes(*issued_at),
        validity_secs: u32::from_be_bytes(*validity_secs),
        nonce,
    };
    if token.validity_secs > MAX_VALIDITY_SECS {
        return Err(QrError::BadField {
            field: "validity_secs",
            reason: "longer than MAX_VALIDITY_SECS",
        });
    }
    Ok(SignedResidentCode { token, signature })
}

impl SignedResidentCode {
    /// Valid while `issued_at - max_skew_secs <= now_unix < issued_at + validity_secs +
    /// max_skew_secs`; the skew allows for the phone's clock differing from ours. A negative
    /// skew counts as zero.
    pub fn check_fresh(&self, now_unix: i64, max_skew_secs: i64) -> Result<(), QrError> {
        let skew = i128::from(max_skew_secs.max(0));
        let now = i128::from(now_unix);
        let issued_at = i128::from(self.token.issued_at);
        if now < issued_at - skew {
            return Err(QrError::NotYetValid);
        }
        if now >= issued_at + i128::from(self.token.validity_secs) + skew {
            return Err(QrError::Expired);
        }
        Ok(())
    }

    /// Checks the signature with the device's public key, a SEC1 uncompressed P-256 point
    /// (65 bytes, starting 0x04). A key of the wrong shape is [`QrError::BadPublicKey`]; a
    /// well-shaped key that is not on the curve fails like a wrong signature.
    pub fn verify(&self, public_key_sec1_uncompressed: &[u8]) -> Result<(), QrError> {
        if public_key_sec1_uncompressed.len() != 65 || public_key_sec1_uncompressed[0] != 0x04 {
            return Err(QrError::BadPublicKey);
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key_sec1_uncompressed)
            .verify(&self.token.signing_bytes(), &self.signature)
            .map_err(|_| QrError::BadSignature)
    }
}

/// r‖s from either form. DER is read strictly: SEQUENCE of two minimal positive INTEGERs of at
/// most 32 bytes each, nothing after.
fn fixed_signature(signature: &[u8]) -> Option<[u8; SIGNATURE_LEN]> {
    if let Ok(fixed) = <[u8; SIGNATURE_LEN]>::try_from(signature) {
        return Some(fixed);
    }
    let (&tag, rest) = signature.split_first()?;
    let (&len, rest) = rest.split_first()?;
    // A P-256 signature is at most 72 bytes, so the length is always in short form.
    if tag != 0x30 || len >= 0x80 || usize::from(len) != rest.len() {
        return None;
    }
    let (r, rest) = der_integer(rest)?;
    let (s, rest) = der_integer(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut fixed = [0u8; SIGNATURE_LEN];
    fixed[32 - r.len()..32].copy_from_slice(r);
    fixed[SIGNATURE_LEN - s.len()..].copy_from_slice(s);
    Some(fixed)
}

/// One DER INTEGER's magnitude (without the sign byte) and what follows it.
fn der_integer(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let len = usize::from(len);
    if tag != 0x02 || len == 0 || len >= 0x80 || rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    let magnitude = match value {
        [first, ..] if first & 0x80 != 0 => return None, // negative
        [0, second, ..] if second & 0x80 == 0 => return None, // not minimal
        [0, tail @ ..] if !tail.is_empty() => tail,
        _ => value,
    };
    (magnitude.len() <= 32).then_some((magnitude, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ring::rand::SystemRandom;
    use ring::signature::{
        ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    };

    const NOW: i64 = 1_732_000_000;
    const SKEW: i64 = 30;

    fn key(alg: &'static ring::signature::EcdsaSigningAlgorithm) -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()
    }

    fn token() -> ResidentToken {
        ResidentToken {
            device_id: 7,
            issued_at: NOW,
            validity_secs: 60,
            nonce: [0xA5; 16],
        }
    }

    fn signed(key: &EcdsaKeyPair, token: &ResidentToken) -> String {
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
        let key = key(&ECDSA_P256_SHA256_FIXED_SIGNING);
        let payload = signed(&key, &token());
        assert!(payload.starts_with(PREFIX));
        assert_eq!(payload.len(), PREFIX.len() + BODY_LEN.div_ceil(2) * 3 - 1);
        assert!(payload.chars().all(is_qr_alphanumeric), "{payload}");
        let code = decode_resident_code(&payload).unwrap();
        assert_eq!(code.token, token());
        assert_eq!(code.check_fresh(NOW + 10, SKEW), Ok(()));
        assert_eq!(code.verify(key.public_key().as_ref()), Ok(()));
    }

    #[test]
    fn der_signatures_from_phone_key_stores_are_accepted() {
        let key = key(&ECDSA_P256_SHA256_ASN1_SIGNING);
        for _ in 0..20 {
            let payload = signed(&key, &token());
            let code = decode_resident_code(&payload).unwrap();
            assert_eq!(code.verify(key.public_key().as_ref()), Ok(()));
        }
    }

    #[test]
    fn signing_bytes_follow_the_documented_layout() {
        let bytes = token().signing_bytes();
        assert_eq!(&bytes[..16], b"chiiki-resident:");
        assert_eq!(bytes[16], 1);
        assert_eq!(&bytes[17..25], &7i64.to_be_bytes());
        assert_eq!(&bytes[25..33], &NOW.to_be_bytes());
        assert_eq!(&bytes[33..37], &60u32.to_be_bytes());
        assert_eq!(&bytes[37..], &[0xA5; 16]);
    }

    #[test]
    fn a_tampered_byte_breaks_the_signature() {
        let key = key(&ECDSA_P256_SHA256_FIXED_SIGNING);
        let code = decode_resident_code(&signed(&key, &token())).unwrap();
        for byte in 0..SIGNATURE_LEN {
            let mut forged = code.clone();
            forged.signature[byte] ^= 0x01;
            assert_eq!(
                forged.verify(key.public_key().as_ref()),
                Err(QrError::BadSignature)
            );
        }
        let mut other_device = code.clone();
        other_device.token.device_id = 8;
        assert_eq!(
            other_device.verify(key.public_key().as_ref()),
            Err(QrError::BadSignature)
        );
        let mut longer = code;
        longer.token.validity_secs = 600;
        assert_eq!(
            longer.verify(key.public_key().as_ref()),
            Err(QrError::BadSignature)
        );
    }

    #[test]
    fn a_tampered_payload_character_never_verifies() {
        let key = key(&ECDSA_P256_SHA256_FIXED_SIGNING);
        let payload = signed(&key, &token());
        let mut chars: Vec<char> = payload.chars().collect();
        chars[PREFIX.len() + 20] = if chars[PREFIX.len() + 20] == '0' {
            '1'
        } else {
            '0'
        };
        let tampered: String = chars.into_iter().collect();
        let verdict =
            decode_resident_code(&tampered).and_then(|code| code.verify(key.public_key().as_ref()));
        assert!(verdict.is_err());
    }

    #[test]
    fn another_devices_key_does_not_verify() {
        let key_a = key(&ECDSA_P256_SHA256_FIXED_SIGNING);
        let key_b = key(&ECDSA_P256_SHA256_FIXED_SIGNING);
        let code = decode_resident_code(&signed(&key_a, &token())).unwrap();
        assert_eq!(
            code.verify(key_b.public_key().as_ref()),
            Err(QrError::BadSignature)
        );
        assert_eq!(code.verify(&[0x04; 64]), Err(QrError::BadPublicKey));
        assert_eq!(code.verify(&[0x04; 65]), Err(QrError::BadSignature));
    }

    #[test]
    fn freshness_is_judged_against_the_callers_clock() {
        let code = SignedResidentCode {
            token: token(),
            signature: [0; 64],
        };
        assert_eq!(code.check_fresh(NOW, 0), Ok(()));
        assert_eq!(code.check_fresh(NOW + 59, 0), Ok(()));
        assert_eq!(code.check_fresh(NOW + 60, 0), Err(QrError::Expired));
        assert_eq!(code.check_fresh(NOW + 60 + SKEW - 1, SKEW), Ok(()));
        assert_eq!(
            code.check_fresh(NOW + 60 + SKEW, SKEW),
            Err(QrError::Expired)
        );
        assert_eq!(code.check_fresh(NOW - SKEW, SKEW), Ok(()));
        assert_eq!(
            code.check_fresh(NOW - SKEW - 1, SKEW),
            Err(QrError::NotYetValid)
        );
        assert_eq!(code.check_fresh(i64::MAX, i64::MAX), Ok(()));
        assert_eq!(
            code.check_fresh(i64::MIN, i64::MAX),
            Err(QrError::NotYetValid)
        );
        assert_eq!(code.check_fresh(i64::MAX, -5), Err(QrError::Expired));
    }

    #[test]
    fn malformed_codes_get_their_own_errors() {
        let key = key(&ECDSA_P256_SHA256_FIXED_SIGNING);
        let payload = signed(&key, &token());
        assert_eq!(
            decode_resident_code("https://x.jp/"),
            Err(QrError::NotAPaymentCode)
        );
        assert_eq!(
            decode_resident_code("ckr:ABC"),
            Err(QrError::NotAPaymentCode)
        );
        assert!(matches!(
            decode_resident_code("CKR:abc"),
            Err(QrError::BadEncoding { .. })
        ));
        assert!(matches!(
            decode_resident_code(&payload[..payload.len() - 3]),
            Err(QrError::BadEncoding { .. })
        ));
        let v2 = format!("{PREFIX}{}", base45::encode(&[2; BODY_LEN]));
        assert_eq!(
            decode_resident_code(&v2),
            Err(QrError::UnsupportedVersion { version: 2 })
        );
        let long = ResidentToken {
            validity_secs: MAX_VALIDITY_SECS + 1,
            ..token()
        };
        assert!(matches!(
            long.encode(&[0; 64]),
            Err(QrError::InvalidSpec { .. })
        ));
        assert_eq!(token().encode(&[0x30; 10]), Err(QrError::BadSignature));
    }

    #[test]
    fn der_is_read_strictly() {
        let der = |r: &[u8], s: &[u8]| {
            let mut out = vec![0x30, (4 + r.len() + s.len()) as u8, 0x02, r.len() as u8];
            out.extend_from_slice(r);
            out.extend_from_slice(&[0x02, s.len() as u8]);
            out.extend_from_slice(s);
            out
        };
        let mut high = vec![0x00, 0x80];
        high.extend_from_slice(&[1; 31]);
        let fixed = fixed_signature(&der(&high, &[5])).unwrap();
        assert_eq!(fixed[0], 0x80);
        assert_eq!(fixed[63], 5);
        assert_eq!(fixed_signature(&der(&[0x80], &[1])), None); // negative
        assert_eq!(fixed_signature(&der(&[0x00, 0x01], &[1])), None); // not minimal
        assert_eq!(fixed_signature(&der(&[1; 33], &[1])), None); // too big
        let mut trailing = der(&[1], &[1]);
        trailing.push(0);
        assert_eq!(fixed_signature(&trailing), None);
    }

    proptest! {
        #[test]
        fn tokens_round_trip(
            device_id in any::<i64>(),
            issued_at in any::<i64>(),
            validity_secs in 0..=MAX_VALIDITY_SECS,
            nonce in any::<[u8; 16]>(),
            signature in any::<[u8; 32]>(),
        ) {
            let token = ResidentToken { device_id, issued_at, validity_secs, nonce };
            let mut fixed = [0u8; 64];
            fixed[..32].copy_from_slice(&signature);
            fixed[32..].copy_from_slice(&signature);
            let payload = token.encode(&fixed).unwrap();
            prop_assert!(payload.chars().all(is_qr_alphanumeric));
            let code = decode_resident_code(&payload).unwrap();
            prop_assert_eq!(code, SignedResidentCode { token, signature: fixed });
        }

        #[test]
        fn decoding_arbitrary_text_never_panics(text in any::<String>()) {
            let _ = decode_resident_code(&text);
        }

        #[test]
        fn decoding_alphanumeric_text_never_panics(text in "[0-9A-Z $%*+./:-]{0,200}") {
            let _ = decode_resident_code(&format!("{PREFIX}{text}"));
        }

        #[test]
        fn decoding_mutated_codes_never_panics(at in 0..156usize, c in any::<char>()) {
            let payload = token().encode(&[7; 64]).unwrap();
            let mut chars: Vec<char> = payload.chars().collect();
            if let Some(slot) = chars.get_mut(at) {
                *slot = c;
            }
            let text: String = chars.into_iter().collect();
            if let Ok(code) = decode_resident_code(&text) {
                let _ = code.check_fresh(NOW, SKEW);
                let _ = code.verify(&[0x04; 65]);
            }
        }

        #[test]
        fn encoding_never_panics_on_arbitrary_signatures(
            signature in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let _ = token().encode(&signature);
        }
    }
}
