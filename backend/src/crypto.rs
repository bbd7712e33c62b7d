//! Secrets: argon2 hashes for passwords and PINs, random bearer tokens kept only as SHA-256
//! hashes, and device public keys. Hashing is slow on purpose, so callers run it on the
//! blocking pool.

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

    /// PINs are checked at every payment, so they get a lighter cost than passwords; they are
    /// peppered with a key from configuration, which is what protects them offline (a 4-6
    /// digit PIN cannot be protected by cost alone).
    pub fn for_pins(self) -> HashCost {
        HashCost {
            memory_kib: self.memory_kib.min(4 * 1024),
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
/// hold hundreds of them at once (measured: 500 MB of RSS at 64 payments in flight), and more
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

/// Argon2id of a PIN with `pepper` as argon2's secret input.
pub fn hash_pin(pin: &str, pepper: &[u8], cost: HashCost) -> Result<String, CryptoError> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|e| CryptoError::Params(e.to_string()))?;
    let argon = Argon2::new_with_secret(pepper, Algorithm::Argon2id, Version::V0x13, params)
        .map_err(|e| CryptoError::Params(e.to_string()))?;
    let hash = argon
        .hash_password(pin.as_bytes())
        .map_err(|e| CryptoError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// True when `pin` matches a hash made by [`hash_pin`] with the same pepper.
pub fn verify_pin(pin: &str, pepper: &[u8], stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    match Argon2::new_with_secret(
        pepper,
        Algorithm::Argon2id,
        Version::V0x13,
        Params::default(),
    ) {
        Ok(argon) => argon.verify_password(pin.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
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

    #[test]
    fn pins_verify_only_with_the_same_pepper() {
        let cost = HashCost::default().for_pins();
        let hash = hash_pin("1234", b"pepper-one-is-32-bytes-long-ok!!", cost).unwrap();
        assert!(verify_pin(
            "1234",
            b"pepper-one-is-32-bytes-long-ok!!",
            &hash
        ));
        assert!(!verify_pin(
            "1235",
            b"pepper-one-is-32-bytes-long-ok!!",
            &hash
        ));
        assert!(!verify_pin(
            "1234",
            b"another-pepper-of-32-bytes-long!",
            &hash
        ));
        assert!(!verify_secret("1234", &hash), "useless without the pepper");
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
