//! Secrets: argon2 hashes for passwords, keyed hashes for PINs (ADR 0005), random bearer
//! tokens kept only as SHA-256 hashes, and device public keys. Password hashing is slow on
//! purpose, so callers run it on the blocking pool.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("argon2 parameters are invalid: {0}")]
    Params(String),
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error("the system random generator failed")]
    Random,
}

/// Argon2id cost. The default follows OWASP's recommendation (19 MiB, 2 passes); tests use
/// [`HashCost::fast_for_tests`] so that thousands of logins stay quick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

impl HashCost {
    pub fn fast_for_tests() -> Self {
        HashCost {
            memory_kib: 64,
            iterations: 1,
        }
    }

    fn argon2(self) -> Result<Argon2<'static>, CryptoError> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None)
            .map_err(|e| CryptoError::Params(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Argon2 runs at most once per core at a time. Each run holds its memory (19 MiB for a
/// password, 4 MiB for a PIN); a burst of payments queued on the blocking pool would otherwise
/// hold hundreds of them at once (measured: 500 MB of RSS at 64 PIN checks in flight), and more
/// runs at once than cores finish no sooner.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    )
});

/// Runs slow hashing work on the blocking pool, at most one run per core at a time.
pub async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CryptoError> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| CryptoError::Hash(e.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CryptoError::Hash(e.to_string()))
}

pub fn hash_secret(secret: &str, cost: HashCost) -> Result<String, CryptoError> {
    let hash = cost
        .argon2()?
        .hash_password(secret.as_bytes())
        .map_err(|e| CryptoError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// How a stored PIN hash begins (ADR 0005): `pin-hmac$<salt>$<mac>`, both URL-safe base64.
const PIN_HMAC_PREFIX: &str = "pin-hmac$";

/// A PIN as the database keeps it: HMAC-SHA256 keyed with the pepper (from the key file, never
/// in the database) over a random salt and the PIN. A 4-6 digit PIN has at most 10^6 values,
/// so no hash cost protects it from someone who also holds the key; the key is what protects
/// it, and a keyed hash costs microseconds at every payment instead of milliseconds (ADR 0005).
pub fn hash_pin(pin: &str, pepper: &[u8]) -> Result<String, CryptoError> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| CryptoError::Random)?;
    let mac = pin_mac(pepper, &salt, pin);
    Ok(format!(
        "{PIN_HMAC_PREFIX}{}${}",
        URL_SAFE_NO_PAD.encode(salt),
        URL_SAFE_NO_PAD.encode(mac.as_ref())
    ))
}

fn pin_mac(pepper: &[u8], salt: &[u8], pin: &str) -> ring::hmac::Tag {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, pepper);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(salt);
    ctx.update(pin.as_bytes());
    ctx.sign()
}

/// What checking a PIN against its stored hash found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinMatch {
    No,
    Yes,
    /// Right, but stored in the older argon2id form: store [`hash_pin`]'s form instead.
    YesRehash,
}

/// True when the stored hash is in the older argon2id form, which is slow to check (callers
/// run [`verify_pin`] on the blocking pool for those, inline otherwise).
pub fn pin_hash_is_slow(stored: &str) -> bool {
    !stored.starts_with(PIN_HMAC_PREFIX)
}

/// Checks `pin` against a hash made by [`hash_pin`], or by [`hash_pin_argon2`] before ADR
/// 0005, with the same pepper. The comparison is constant-time.
pub fn verify_pin(pin: &str, pepper: &[u8], stored: &str) -> PinMatch {
    if let Some(rest) = stored.strip_prefix(PIN_HMAC_PREFIX) {
        let Some((salt, mac)) = rest.split_once('$') else {
            return PinMatch::No;
        };
        let (Ok(salt), Ok(mac)) = (URL_SAFE_NO_PAD.decode(salt), URL_SAFE_NO_PAD.decode(mac))
        else {
            return PinMatch::No;
        };
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, pepper);
        let mut message = salt;
        message.extend_from_slice(pin.as_bytes());
        return match ring::hmac::verify(&key, &message, &mac) {
            Ok(()) => PinMatch::Yes,
            Err(_) => PinMatch::No,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return PinMatch::No;
    };
    let matches = Argon2::new_with_secret(
        pepper,
        Algorithm::Argon2id,
        Version::V0x13,
        Params::default(),
    )
    .is_ok_and(|argon| argon.verify_password(pin.as_bytes(), &parsed).is_ok());
    if matches {
        PinMatch::YesRehash
    } else {
        PinMatch::No
    }
}

/// The argon2id form PINs were stored in before ADR 0005 (4 MiB, one pass, the pepper as
/// argon2's secret). Rows in this form still verify and are rewritten on their next right PIN;
/// nothing stores new ones.
pub fn hash_pin_argon2(pin: &str, pepper: &[u8]) -> Result<String, CryptoError> {
    let params =
        Params::new(4 * 1024, 1, 1, None).map_err(|e| CryptoError::Params(e.to_string()))?;
    let argon = Argon2::new_with_secret(pepper, Algorithm::Argon2id, Version::V0x13, params)
        .map_err(|e| CryptoError::Params(e.to_string()))?;
    let hash = argon
        .hash_password(pin.as_bytes())
        .map_err(|e| CryptoError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// True when `secret` matches. A stored hash that cannot be parsed never matches.
pub fn verify_secret(secret: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// 32 random bytes, URL-safe base64: a bearer token.
pub fn new_token() -> Result<String, CryptoError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CryptoError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// A device's ECDSA P-256 public key as sent at login: standard base64 of the SEC1
/// uncompressed point (0x04 ‖ X ‖ Y, 65 bytes). Whether the point is on the curve is
/// established by ring when a signature is first verified.
pub fn parse_device_public_key(b64: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(b64.trim()).ok()?;
    (bytes.len() == 65 && bytes[0] == 0x04).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_verify_only_against_their_own_hash() {
        let hash = hash_secret("1234", HashCost::fast_for_tests()).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_secret("1234", &hash));
        assert!(!verify_secret("1235", &hash));
        assert!(!verify_secret("1234", "not a hash"));
    }

    const PEPPER: &[u8] = b"pepper-one-is-32-bytes-long-ok!!";
    const OTHER_PEPPER: &[u8] = b"another-pepper-of-32-bytes-long!";

    #[test]
    fn pins_verify_only_with_the_same_pepper() {
        let hash = hash_pin("1234", PEPPER).unwrap();
        assert!(!pin_hash_is_slow(&hash));
        assert_eq!(verify_pin("1234", PEPPER, &hash), PinMatch::Yes);
        assert_eq!(verify_pin("1235", PEPPER, &hash), PinMatch::No);
        assert_eq!(verify_pin("12345", PEPPER, &hash), PinMatch::No);
        assert_eq!(verify_pin("1234", OTHER_PEPPER, &hash), PinMatch::No);
        assert_ne!(hash, hash_pin("1234", PEPPER).unwrap(), "salted");
        for broken in ["pin-hmac$", "pin-hmac$!!$??", "pin-hmac$AAAA", "", "1234"] {
            assert_eq!(verify_pin("1234", PEPPER, broken), PinMatch::No, "{broken}");
        }
    }

    #[test]
    fn argon2_pins_from_before_still_verify_and_ask_to_be_rehashed() {
        let old = hash_pin_argon2("1234", PEPPER).unwrap();
        assert!(pin_hash_is_slow(&old));
        assert_eq!(verify_pin("1234", PEPPER, &old), PinMatch::YesRehash);
        assert_eq!(verify_pin("1235", PEPPER, &old), PinMatch::No);
        assert_eq!(verify_pin("1234", OTHER_PEPPER, &old), PinMatch::No);
        assert!(!verify_secret("1234", &old), "useless without the pepper");
    }

    #[test]
    fn tokens_are_random_and_stored_as_hashes() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn device_keys_must_be_uncompressed_p256_points() {
        let mut point = vec![0x04];
        point.extend([7u8; 64]);
        assert!(parse_device_public_key(&STANDARD.encode(&point)).is_some());
        assert!(parse_device_public_key(&STANDARD.encode(&point[..33])).is_none());
        assert!(parse_device_public_key("%%%").is_none());
    }
}
