//! Personal data at rest: AES-256-GCM with a random 96-bit nonce per value and the key id
//! stored beside the ciphertext (so keys can rotate while serving), and keyed blind indexes
//! (HMAC-SHA256) for the few exact-match searches the service needs (a phone number at login,
//! a name at the help desk). Keys come from configuration, never from the database.
//!
//! Stored form: `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. The field name is the
//! additional authenticated data, so a value copied into another column does not decrypt.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("key file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("key configuration is invalid: {0}")]
    Config(String),
    #[error("a stored value is not in the vault's format")]
    Format,
    #[error("no key {0} is configured (was it removed before rotation finished?)")]
    UnknownKey(String),
    #[error("a stored value does not decrypt: wrong key or tampered")]
    Tampered,
    #[error("the system random generator failed")]
    Random,
}

const PREFIX: &str = "enc:v1:";

/// One generation of the configured keys.
struct KeySet {
    keys: BTreeMap<String, LessSafeKey>,
    active: String,
    index_raw: [u8; 32],
    /// The city's ECDSA P-256 key that signs event codes (community points).
    event_key: Option<Arc<EcdsaKeyPair>>,
}

/// Where the keys came from, so a running server picks up a rotated key file by itself.
struct Source {
    path: PathBuf,
    /// When the file was last looked at, and its modification time then.
    seen: Mutex<(Instant, Option<SystemTime>)>,
}

/// The keys, as configured. A key id is short and stable (`k20250101`); the active key
/// encrypts, every configured key decrypts. The blind-index key never changes.
pub struct Vault {
    set: RwLock<Arc<KeySet>>,
    index: hmac::Key,
    index_raw: [u8; 32],
    source: Option<Source>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.current();
        f.debug_struct("Vault")
            .field("keys", &set.keys.keys().collect::<Vec<_>>())
            .field("active", &set.active)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    /// The id of the key that encrypts new values.
    active: String,
    /// base64 of 32 bytes: the blind-index key. Never rotated: indexes depend on it.
    index_key: String,
    /// id → base64 of 32 bytes.
    keys: BTreeMap<String, String>,
    /// base64 of the city's ECDSA P-256 signing key (PKCS#8) for event codes. Never rotated
    /// with the data keys: printed codes must keep verifying for their whole window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_key: Option<String>,
}

fn key_bytes(b64: &str, what: &str) -> Result<[u8; 32], VaultError> {
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|_| VaultError::Config(format!("{what} is not base64")))?;
    bytes
        .try_into()
        .map_err(|_| VaultError::Config(format!("{what} must be 32 bytes")))
}

/// How often a server looks at its key file for a rotation.
const RECHECK: Duration = Duration::from_secs(10);

fn parse_key_set(text: &str) -> Result<KeySet, VaultError> {
    let file: KeyFile =
        toml::from_str(text).map_err(|e| VaultError::Config(e.message().to_string()))?;
    let mut keys = BTreeMap::new();
    for (id, b64) in &file.keys {
        let valid_id = !id.is_empty()
            && id.len() <= 16
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid_id {
            return Err(VaultError::Config(format!(
                "key id {id:?} must be 1-16 of [A-Za-z0-9-]"
            )));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, &key_bytes(b64, id)?)
            .map_err(|_| VaultError::Config(format!("key {id} is unusable")))?;
        keys.insert(id.clone(), LessSafeKey::new(unbound));
    }
    if !keys.contains_key(&file.active) {
        return Err(VaultError::Config(format!(
            "the active key {} is not configured",
            file.active
        )));
    }
    let event_key = match &file.event_key {
        Some(b64) => Some(Arc::new(parse_event_key(b64)?)),
        None => None,
    };
    Ok(KeySet {
        keys,
        active: file.active,
        index_raw: key_bytes(&file.index_key, "index_key")?,
        event_key,
    })
}

fn parse_event_key(b64: &str) -> Result<EcdsaKeyPair, VaultError> {
    let pkcs8 = STANDARD
        .decode(b64.trim())
        .map_err(|_| VaultError::Config("event_key is not base64".into()))?;
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &pkcs8,
        &SystemRandom::new(),
    )
    .map_err(|_| VaultError::Config("event_key is not a P-256 PKCS#8 key".into()))
}

/// A new city event-signing key: base64 of its PKCS#8 document.
fn new_event_key() -> Result<String, VaultError> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| VaultError::Random)?;
    Ok(STANDARD.encode(pkcs8.as_ref()))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Vault {
    fn from_set(set: KeySet, source: Option<Source>) -> Vault {
        Vault {
            index: hmac::Key::new(hmac::HMAC_SHA256, &set.index_raw),
            index_raw: set.index_raw,
            set: RwLock::new(Arc::new(set)),
            source,
            rng: SystemRandom::new(),
        }
    }

    /// Reads a TOML key file: `active = "k1"`, `index_key = "…"`, `[keys] k1 = "…"`. The
    /// vault re-reads it when it changes (key rotation while serving).
    pub fn from_file(path: &Path) -> Result<Vault, VaultError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| VaultError::Read(path.display().to_string(), e))?;
        let source = Source {
            path: path.to_path_buf(),
            seen: Mutex::new((Instant::now(), modified(path))),
        };
        Ok(Vault::from_set(parse_key_set(&text)?, Some(source)))
    }

    pub fn from_toml(text: &str) -> Result<Vault, VaultError> {
        Ok(Vault::from_set(parse_key_set(text)?, None))
    }

    /// The keys in force, re-reading the key file if it changed since it was last looked at
    /// (at most every few seconds, or now when `force`).
    fn refreshed(&self, force: bool) -> Arc<KeySet> {
        if let Some(source) = &self.source {
            let changed = match source.seen.lock() {
                Ok(mut seen) if force || seen.0.elapsed() >= RECHECK => {
                    let now_modified = modified(&source.path);
                    let changed = now_modified != seen.1;
                    *seen = (Instant::now(), now_modified);
                    changed || force
                }
                _ => false,
            };
            if changed {
                self.reload(&source.path);
            }
        }
        self.current()
    }

    fn reload(&self, path: &Path) {
        let loaded = std::fs::read_to_string(path)
            .map_err(|e| VaultError::Read(path.display().to_string(), e))
            .and_then(|text| parse_key_set(&text));
        match loaded {
            Ok(set) if set.index_raw != self.index_raw => {
                tracing::error!(target: "chiiki::failure", "key file changed its index key; keeping the keys in memory");
            }
            Ok(set) => {
                tracing::info!(target: "chiiki::change", active = %set.active, "data keys reloaded");
                if let Ok(mut current) = self.set.write() {
                    *current = Arc::new(set);
                }
            }
            Err(e) => {
                tracing::error!(target: "chiiki::failure", error = %e, "key file unreadable; keeping the keys in memory")
            }
        }
    }

    fn current(&self) -> Arc<KeySet> {
        match self.set.read() {
            Ok(set) => set.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Adds a new random key to the key file and makes it the active one (keeping the old keys
    /// so existing values still open). Returns the new key's id.
    pub fn rotate_file(
        path: &Path,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, VaultError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| VaultError::Read(path.display().to_string(), e))?;
        let mut file: KeyFile =
            toml::from_str(&text).map_err(|e| VaultError::Config(e.message().to_string()))?;
        let mut id = format!("k{}", now.format("%Y%m%d%H%M"));
        while file.keys.contains_key(&id) {
            id.push('x');
        }
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| VaultError::Random)?;
        file.keys.insert(id.clone(), STANDARD.encode(key));
        file.active = id.clone();
        let text = toml::to_string(&file).map_err(|e| VaultError::Config(e.to_string()))?;
        write_private(
            path,
            &format!(
                "# Chiiki data keys. Keep this file out of the database and its backups.\n{text}"
            ),
        )?;
        Ok(id)
    }

    /// A fresh key file with one random key (for `chiiki keys new`, the demo and tests).
    pub fn generate_toml(key_id: &str) -> Result<String, VaultError> {
        let rng = SystemRandom::new();
        let mut data = [0u8; 32];
        let mut index = [0u8; 32];
        rng.fill(&mut data).map_err(|_| VaultError::Random)?;
        rng.fill(&mut index).map_err(|_| VaultError::Random)?;
        Ok(format!(
            "# Chiiki data keys. Keep this file out of the database and its backups.\n\
             active = \"{key_id}\"\nindex_key = \"{}\"\nevent_key = \"{}\"\n\n[keys]\n{key_id} = \"{}\"\n",
            STANDARD.encode(index),
            new_event_key()?,
            STANDARD.encode(data)
        ))
    }

    /// A vault with fresh random keys that live only in memory: for tests and tools that never
    /// keep personal data. A server keeps its keys in a file (`--keys-file`).
    pub fn ephemeral() -> Result<Vault, VaultError> {
        Vault::from_toml(&Vault::generate_toml("mem")?)
    }

    /// Adds a city event-signing key to a key file made before community points existed.
    /// Returns whether it added one; a file that has one is left alone.
    pub fn ensure_event_key(path: &Path) -> Result<bool, VaultError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| VaultError::Read(path.display().to_string(), e))?;
        let mut file: KeyFile =
            toml::from_str(&text).map_err(|e| VaultError::Config(e.message().to_string()))?;
        if file.event_key.is_some() {
            return Ok(false);
        }
        file.event_key = Some(new_event_key()?);
        let text = toml::to_string(&file).map_err(|e| VaultError::Config(e.to_string()))?;
        write_private(
            path,
            &format!(
                "# Chiiki data keys. Keep this file out of the database and its backups.\n{text}"
            ),
        )?;
        Ok(true)
    }

    /// The city's event-signing key, when the key file has one.
    pub fn event_key(&self) -> Option<Arc<EcdsaKeyPair>> {
        self.refreshed(false).event_key.clone()
    }

    /// The secret mixed into every PIN hash (argon2's "secret" input): derived from the index
    /// key, so a stolen database alone does not allow guessing PINs offline.
    pub fn pin_pepper(&self) -> [u8; 32] {
        let tag = hmac::sign(&self.index, b"chiiki pin pepper v1");
        let mut out = [0u8; 32];
        out.copy_from_slice(&tag.as_ref()[..32]);
        out
    }

    pub fn active_key(&self) -> String {
        self.refreshed(false).active.clone()
    }

    /// Encrypts `plain` for the column `field` under the active key.
    pub fn seal(&self, field: &str, plain: &str) -> Result<String, VaultError> {
        let set = self.refreshed(false);
        let key = set
            .keys
            .get(&set.active)
            .ok_or_else(|| VaultError::UnknownKey(set.active.clone()))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| VaultError::Random)?;
        let mut data = plain.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(field.as_bytes()),
            &mut data,
        )
        .map_err(|_| VaultError::Tampered)?;
        let mut out = nonce.to_vec();
        out.extend(data);
        Ok(format!(
            "{PREFIX}{}:{}",
            set.active,
            URL_SAFE_NO_PAD.encode(out)
        ))
    }

    /// Decrypts a value sealed for the column `field`.
    pub fn open(&self, field: &str, stored: &str) -> Result<String, VaultError> {
        let rest = stored.strip_prefix(PREFIX).ok_or(VaultError::Format)?;
        let (key_id, b64) = rest.split_once(':').ok_or(VaultError::Format)?;
        let mut set = self.refreshed(false);
        if !set.keys.contains_key(key_id) {
            // Another process may have rotated the key file a moment ago.
            set = self.refreshed(true);
        }
        let key = set
            .keys
            .get(key_id)
            .ok_or_else(|| VaultError::UnknownKey(key_id.to_string()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| VaultError::Format)?;
        if bytes.len() < NONCE_LEN {
            return Err(VaultError::Format);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::Format)?;
        let mut sealed = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(field.as_bytes()), &mut sealed)
            .map_err(|_| VaultError::Tampered)?;
        String::from_utf8(plain.to_vec()).map_err(|_| VaultError::Tampered)
    }

    /// Seals bytes (a transfer file, say) as a vault string.
    pub fn seal_bytes(&self, field: &str, bytes: &[u8]) -> Result<String, VaultError> {
        self.seal(field, &STANDARD.encode(bytes))
    }

    pub fn open_bytes(&self, field: &str, stored: &str) -> Result<Vec<u8>, VaultError> {
        STANDARD
            .decode(self.open(field, stored)?)
            .map_err(|_| VaultError::Tampered)
    }

    /// Seals an optional value.
    pub fn seal_opt(&self, field: &str, plain: Option<&str>) -> Result<Option<String>, VaultError> {
        plain.map(|p| self.seal(field, p)).transpose()
    }

    /// Opens an optional value.
    pub fn open_opt(
        &self,
        field: &str,
        stored: Option<&str>,
    ) -> Result<Option<String>, VaultError> {
        stored.map(|s| self.open(field, s)).transpose()
    }

    /// Which key sealed a stored value (rotation re-encrypts the ones not under the active key).
    pub fn key_of(stored: &str) -> Option<&str> {
        stored
            .strip_prefix(PREFIX)?
            .split_once(':')
            .map(|(id, _)| id)
    }

    /// The keyed blind index of a normalised value for one kind of search (`phone`, `kana`):
    /// equal inputs give equal indexes, and without the key nobody can test a guess.
    pub fn blind_index(&self, kind: &str, normalised: &str) -> String {
        let tag = hmac::sign(&self.index, format!("{kind}\u{0}{normalised}").as_bytes());
        hex::encode(&tag.as_ref()[..16])
    }
}

/// Writes a file only its owner can read, replacing it atomically.
pub fn write_private(path: &Path, text: &str) -> Result<(), VaultError> {
    let io = |e| VaultError::Read(path.display().to_string(), e);
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::from_toml(&Vault::generate_toml("k1").unwrap()).unwrap()
    }

    #[test]
    fn values_round_trip_and_never_show_in_the_stored_form() {
        let v = vault();
        let stored = v.seal("residents.name", "緑 花子").unwrap();
        assert!(stored.starts_with("enc:v1:k1:"));
        assert!(!stored.contains("緑"));
        assert_eq!(v.open("residents.name", &stored).unwrap(), "緑 花子");
        assert_ne!(
            stored,
            v.seal("residents.name", "緑 花子").unwrap(),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn a_value_moved_to_another_column_or_tampered_does_not_open() {
        let v = vault();
        let stored = v.seal("residents.name", "緑 花子").unwrap();
        assert!(matches!(
            v.open("residents.address", &stored),
            Err(VaultError::Tampered)
        ));
        let mut bytes = stored.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(v.open("residents.name", &tampered).is_err());
        assert!(matches!(
            v.open("residents.name", "plain text"),
            Err(VaultError::Format)
        ));
    }

    #[test]
    fn old_keys_still_open_what_they_sealed_after_rotation() {
        let before = Vault::generate_toml("k1").unwrap();
        let v1 = Vault::from_toml(&before).unwrap();
        let sealed = v1.seal("f", "x").unwrap();
        let line = |toml: &str, start: &str| {
            toml.lines()
                .find(|l| l.starts_with(start))
                .unwrap()
                .to_string()
        };
        let k2 = line(&Vault::generate_toml("k2").unwrap(), "k2 =");
        let after = format!(
            "active = \"k2\"\n{}\n[keys]\n{}\n{k2}\n",
            line(&before, "index_key"),
            line(&before, "k1 =")
        );
        let rotated = Vault::from_toml(&after).unwrap();
        assert_eq!(rotated.open("f", &sealed).unwrap(), "x");
        assert_eq!(Vault::key_of(&rotated.seal("f", "y").unwrap()), Some("k2"));
        assert_eq!(
            rotated.blind_index("phone", "0901"),
            v1.blind_index("phone", "0901")
        );
        assert!(
            vault().open("f", &sealed).is_err(),
            "another key named k1 is another key"
        );
    }

    #[test]
    fn blind_indexes_match_equal_values_only() {
        let v = vault();
        assert_eq!(
            v.blind_index("phone", "09012345678"),
            v.blind_index("phone", "09012345678")
        );
        assert_ne!(
            v.blind_index("phone", "09012345678"),
            v.blind_index("phone", "09012345679")
        );
        assert_ne!(v.blind_index("phone", "x"), v.blind_index("kana", "x"));
        assert_ne!(
            vault().blind_index("phone", "x"),
            v.blind_index("phone", "x"),
            "keyed"
        );
    }

    #[test]
    fn a_running_vault_follows_its_rotated_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        write_private(&path, &Vault::generate_toml("k1").unwrap()).unwrap();
        let serving = Vault::from_file(&path).unwrap();
        let old = serving.seal("f", "x").unwrap();
        let id = Vault::rotate_file(&path, chrono::Utc::now()).unwrap();
        // Another process (the rotation) seals with the new key: the serving vault opens it.
        let rotated = Vault::from_file(&path).unwrap();
        let new = rotated.seal("f", "y").unwrap();
        assert_eq!(Vault::key_of(&new), Some(id.as_str()));
        assert_eq!(serving.open("f", &new).unwrap(), "y");
        assert_eq!(rotated.open("f", &old).unwrap(), "x");
        assert_eq!(serving.active_key(), id, "the serving vault switched too");
    }

    #[test]
    fn the_event_key_is_added_to_old_key_files_and_survives_rotation() {
        use ring::signature::KeyPair;
        let public = |v: &Vault| v.event_key().unwrap().public_key().as_ref().to_vec();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        let old: String = Vault::generate_toml("k1")
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("event_key"))
            .map(|l| format!("{l}\n"))
            .collect();
        write_private(&path, &old).unwrap();
        let before = Vault::from_file(&path).unwrap();
        assert!(before.event_key().is_none());
        let sealed = before.seal("f", "x").unwrap();
        assert!(Vault::ensure_event_key(&path).unwrap());
        assert!(!Vault::ensure_event_key(&path).unwrap(), "added once");
        let with_key = Vault::from_file(&path).unwrap();
        assert_eq!(with_key.open("f", &sealed).unwrap(), "x");
        let key = public(&with_key);
        Vault::rotate_file(&path, chrono::Utc::now()).unwrap();
        assert_eq!(public(&Vault::from_file(&path).unwrap()), key);
        let bad = std::fs::read_to_string(&path)
            .unwrap()
            .replace("event_key = \"", "event_key = \"AAAA");
        assert!(Vault::from_toml(&bad).is_err());
    }

    #[test]
    fn bad_key_files_are_refused() {
        assert!(
            Vault::from_toml("active = \"k1\"\nindex_key = \"AA==\"\n[keys]\nk1 = \"AA==\"\n")
                .is_err()
        );
        let good = Vault::generate_toml("k1").unwrap();
        assert!(Vault::from_toml(&good.replace("active = \"k1\"", "active = \"k9\"")).is_err());
    }
}
