//! The payment provider's signed notifications. The provider signs `"<t>.<raw body>"` with
//! HMAC-SHA256 under a shared secret and sends `Chiiki-Signature: t=<unix seconds>,v1=<hex>`
//! (several `v1` while a secret is being rotated). A notification is accepted only with a
//! valid signature and a timestamp within the replay window; a repeat of an accepted one
//! is recognised by the provider's payment id (see `purchase::pay_order`).
//!
//! This module only authenticates: it must never look at the body's meaning, and it must
//! verify over the raw bytes as received, never over re-serialised JSON.

use super::{SaleError, SaleResult};
use chrono::{DateTime, Utc};
use ring::hmac;
use std::sync::Arc;
use std::time::Duration;

/// The shared secret (from configuration, never from the database). Debug never prints it.
#[derive(Clone)]
pub struct WebhookSecret(Arc<hmac::Key>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

impl WebhookSecret {
    /// `None` for an empty secret: an empty key would authenticate anyone who guesses it.
    pub fn new(secret: &str) -> Option<WebhookSecret> {
        let secret = secret.trim();
        (!secret.is_empty()).then(|| {
            WebhookSecret(Arc::new(hmac::Key::new(
                hmac::HMAC_SHA256,
                secret.as_bytes(),
            )))
        })
    }

    /// The header value a provider sends for `body` at `timestamp` (tests and provider
    /// simulators use this).
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let tag = hmac::sign(&self.0, &signed_payload(timestamp, body));
        format!("t={timestamp},v1={}", hex::encode(tag.as_ref()))
    }

    /// Checks a notification's signature header against its raw body, then its freshness.
    pub fn verify(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
        tolerance: Duration,
    ) -> SaleResult<()> {
        let header = header.ok_or(SaleError::BadSignature("no signature header"))?;
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => {
                    timestamp = Some(
                        t.parse::<i64>()
                            .map_err(|_| SaleError::BadSignature("timestamp is not a number"))?,
                    );
                }
                Some(("v1", sig)) => {
                    let bytes = hex::decode(sig)
                        .map_err(|_| SaleError::BadSignature("signature is not hex"))?;
                    signatures.push(bytes);
                }
                // Other schemes a provider may add later are ignored, as they are elsewhere.
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SaleError::BadSignature("no timestamp"))?;
        if signatures.is_empty() {
            return Err(SaleError::BadSignature("no v1 signature"));
        }
        let payload = signed_payload(timestamp, body);
        let valid = signatures
            .iter()
            .any(|sig| hmac::verify(&self.0, &payload, sig).is_ok());
        if !valid {
            return Err(SaleError::BadSignature("signature does not match"));
        }
        let age = now.timestamp().abs_diff(timestamp);
        if age > tolerance.as_secs() {
            return Err(SaleError::StaleNotification);
        }
        Ok(())
    }
}

fn signed_payload(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{timestamp}.").into_bytes();
    payload.extend_from_slice(body);
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const TOLERANCE: Duration = Duration::from_secs(300);

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 11, 5, 3, 0, 0).unwrap()
    }

    fn secret() -> WebhookSecret {
        WebhookSecret::new("provider-shared-secret").unwrap()
    }

    #[test]
    fn a_fresh_correctly_signed_notification_is_accepted() {
        let body = br#"{"payment_id":"p1","order_id":1,"amount":5000}"#;
        let header = secret().sign(now().timestamp(), body);
        assert!(header.starts_with(&format!("t={},v1=", now().timestamp())));
        secret()
            .verify(Some(&header), body, now(), TOLERANCE)
            .unwrap();
        // Within the window either way.
        let early = secret().sign(now().timestamp() - 299, body);
        secret()
            .verify(Some(&early), body, now(), TOLERANCE)
            .unwrap();
    }

    #[test]
    fn the_signature_matches_an_independent_hmac() {
        // HMAC-SHA256(key "provider-shared-secret", "1730775600.{}"), computed with openssl:
        // printf '1730775600.{}' | openssl dgst -sha256 -hmac provider-shared-secret
        let header = secret().sign(1_730_775_600, b"{}");
        assert_eq!(
            header,
            "t=1730775600,v1=68a12995470d357a3768ced3c128ee712b1f7f0ac0cc1b194ddcc9409e4e0ec5"
        );
    }

    #[test]
    fn tampered_unsigned_or_foreign_notifications_are_refused() {
        let body = br#"{"payment_id":"p1","order_id":1,"amount":5000}"#;
        let header = secret().sign(now().timestamp(), body);
        let tampered = br#"{"payment_id":"p1","order_id":1,"amount":50000}"#;
        let refuse = |header: Option<&str>, body: &[u8]| {
            secret().verify(header, body, now(), TOLERANCE).unwrap_err()
        };
        assert!(matches!(
            refuse(Some(&header), tampered),
            SaleError::BadSignature(_)
        ));
        assert!(matches!(refuse(None, body), SaleError::BadSignature(_)));
        assert!(matches!(
            refuse(Some("t=1"), body),
            SaleError::BadSignature(_)
        ));
        assert!(matches!(
            refuse(Some("v1=00"), body),
            SaleError::BadSignature(_)
        ));
        assert!(matches!(
            refuse(Some("t=x,v1=00"), body),
            SaleError::BadSignature(_)
        ));
        assert!(matches!(
            refuse(Some("t=1,v1=zz"), body),
            SaleError::BadSignature(_)
        ));
        let other = WebhookSecret::new("someone-else").unwrap();
        let forged = other.sign(now().timestamp(), body);
        assert!(matches!(
            refuse(Some(&forged), body),
            SaleError::BadSignature(_)
        ));
        // Moving the timestamp breaks the signature too.
        let moved = header.replacen(
            &format!("t={}", now().timestamp()),
            &format!("t={}", now().timestamp() + 1),
            1,
        );
        assert!(matches!(
            refuse(Some(&moved), body),
            SaleError::BadSignature(_)
        ));
    }

    #[test]
    fn replays_outside_the_window_are_refused() {
        let body = b"{}";
        for offset in [-301, 301, -86_400] {
            let header = secret().sign(now().timestamp() + offset, body);
            assert!(matches!(
                secret().verify(Some(&header), body, now(), TOLERANCE),
                Err(SaleError::StaleNotification)
            ));
        }
    }

    #[test]
    fn a_rotating_provider_may_send_two_signatures() {
        let body = b"{}";
        let t = now().timestamp();
        let old = WebhookSecret::new("old-secret").unwrap().sign(t, body);
        let new = secret().sign(t, body);
        let both = format!("{old},{}", new.split_once(',').unwrap().1);
        secret()
            .verify(Some(&both), body, now(), TOLERANCE)
            .unwrap();
        assert!(WebhookSecret::new("  ").is_none());
        assert_eq!(format!("{:?}", secret()), "WebhookSecret(…)");
    }
}
