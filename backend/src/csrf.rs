//! Tokens that protect the public web forms (the store application) from cross-site request
//! forgery: a signed double submit. Showing the form sets a cookie with a random nonce and puts
//! `nonce.issued.mac` in a hidden field; a submission is accepted only when the field's MAC is
//! ours, it is fresh, and its nonce matches the cookie (which another site can neither read
//! nor set). The key lives in the database, so every server behind a load balancer agrees.
//!
//! Must never accept a token without checking all three; never log tokens or the key.

use crate::clock::to_millis;
use crate::db::Db;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The cookie that carries the nonce.
pub const COOKIE: &str = "chiiki_form";
/// How long a shown form can be submitted.
pub const LIFETIME_SECS: i64 = 2 * 60 * 60;
const SECRET_NAME: &str = "form_token_key";
const DOMAIN: &[u8] = b"chiiki-form:";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    #[error("the form token is missing or malformed")]
    Malformed,
    #[error("the form token was not made by this service")]
    BadMac,
    #[error("the form token has expired")]
    Expired,
    #[error("the form token does not belong to this browser")]
    CookieMismatch,
}

/// The signing key, shared by every server through the database.
pub struct FormKey(hmac::Key);

impl std::fmt::Debug for FormKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormKey(..)")
    }
}

/// A token pair: the cookie's value and the form field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub cookie: String,
    pub token: String,
}

impl FormKey {
    pub fn from_bytes(secret: &[u8]) -> FormKey {
        FormKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// Reads the key, creating it on first use (concurrent first uses agree on one key).
    pub async fn load(db: &Db, now: DateTime<Utc>) -> Result<FormKey, sqlx::Error> {
        let mut fresh = [0u8; 32];
        SystemRandom::new()
            .fill(&mut fresh)
            .map_err(|_| sqlx::Error::Protocol("the system random generator failed".into()))?;
        sqlx::query(
            "INSERT INTO server_secrets (name, secret, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(SECRET_NAME)
        .bind(fresh.to_vec())
        .bind(to_millis(now))
        .execute(db.writer())
        .await?;
        let secret: Vec<u8> =
            sqlx::query_scalar("SELECT secret FROM server_secrets WHERE name = $1")
                .bind(SECRET_NAME)
                .fetch_one(db.writer())
                .await?;
        Ok(FormKey::from_bytes(&secret))
    }

    fn mac(&self, nonce: &str, issued: i64) -> hmac::Tag {
        let mut message = DOMAIN.to_vec();
        message.extend_from_slice(format!("{nonce}.{issued}").as_bytes());
        hmac::sign(&self.0, &message)
    }

    pub fn issue(&self, now: DateTime<Utc>) -> Result<Issued, CsrfError> {
        let mut bytes = [0u8; 16];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| CsrfError::Malformed)?;
        let nonce = URL_SAFE_NO_PAD.encode(bytes);
        let issued = now.timestamp();
        let mac = URL_SAFE_NO_PAD.encode(self.mac(&nonce, issued).as_ref());
        Ok(Issued {
            token: format!("{nonce}.{issued}.{mac}"),
            cookie: nonce,
        })
    }

    /// A token bound to a nonce the caller already shares with the browser (a signed-in
    /// page derives it from the session cookie), so that no extra cookie is needed.
    pub fn issue_bound(&self, nonce: &str, now: DateTime<Utc>) -> String {
        let issued = now.timestamp();
        let mac = URL_SAFE_NO_PAD.encode(self.mac(nonce, issued).as_ref());
        format!("{nonce}.{issued}.{mac}")
    }

    pub fn check(
        &self,
        cookie: Option<&str>,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CsrfError> {
        let mut parts = token.split('.');
        let (Some(nonce), Some(issued), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CsrfError::Malformed);
        };
        let issued: i64 = issued.parse().map_err(|_| CsrfError::Malformed)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| CsrfError::Malformed)?;
        let mut message = DOMAIN.to_vec();
        message.extend_from_slice(format!("{nonce}.{issued}").as_bytes());
        hmac::verify(&self.0, &message, &mac).map_err(|_| CsrfError::BadMac)?;
        let age = now.timestamp() - issued;
        // A minute of grace for clocks of different servers.
        if !(-60..=LIFETIME_SECS).contains(&age) {
            return Err(CsrfError::Expired);
        }
        if cookie != Some(nonce) {
            return Err(CsrfError::CookieMismatch);
        }
        Ok(())
    }
}

/// The value of one cookie in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 12, 1, 3, 0, 0).unwrap()
    }

    #[test]
    fn a_token_passes_only_with_its_cookie_while_fresh() {
        let key = FormKey::from_bytes(&[7; 32]);
        let issued = key.issue(now()).unwrap();
        assert_eq!(
            key.check(Some(&issued.cookie), &issued.token, now()),
            Ok(())
        );
        let later = now() + Duration::seconds(LIFETIME_SECS + 1);
        assert_eq!(
            key.check(Some(&issued.cookie), &issued.token, later),
            Err(CsrfError::Expired)
        );
        assert_eq!(
            key.check(None, &issued.token, now()),
            Err(CsrfError::CookieMismatch)
        );
        let other = key.issue(now()).unwrap();
        assert_eq!(
            key.check(Some(&other.cookie), &issued.token, now()),
            Err(CsrfError::CookieMismatch)
        );
    }

    #[test]
    fn a_bound_token_passes_only_with_its_nonce() {
        let key = FormKey::from_bytes(&[7; 32]);
        let token = key.issue_bound("session-nonce", now());
        assert_eq!(key.check(Some("session-nonce"), &token, now()), Ok(()));
        assert_eq!(
            key.check(Some("other-nonce"), &token, now()),
            Err(CsrfError::CookieMismatch)
        );
    }

    #[test]
    fn forged_and_malformed_tokens_fail() {
        let key = FormKey::from_bytes(&[7; 32]);
        let stranger = FormKey::from_bytes(&[8; 32]);
        let issued = stranger.issue(now()).unwrap();
        assert_eq!(
            key.check(Some(&issued.cookie), &issued.token, now()),
            Err(CsrfError::BadMac)
        );
        let mine = key.issue(now()).unwrap();
        let moved = mine.token.replacen('.', ".1", 1);
        assert!(key.check(Some(&mine.cookie), &moved, now()).is_err());
        for bad in ["", "a.b", "a.b.c.d", "x.notanumber.y"] {
            assert_eq!(
                key.check(Some("x"), bad, now()),
                Err(CsrfError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn cookies_are_found_by_name() {
        assert_eq!(
            cookie_value("a=1; chiiki_form=xyz; b=2", COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie_value("a=1", COOKIE), None);
    }
}
